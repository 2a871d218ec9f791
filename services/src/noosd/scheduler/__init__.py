"""org.noos.Scheduler1: language models scheduled like CPU cores.

Rooms (docs/architecture.md): `service`/`interface`, the D-Bus front door;
`engine`, which carries out the core's decisions on real models; `core/`, the
pure state machine that turns events into decisions and its policies
(`core.machine.Scheduler`); `storage/`, saved KV states; `live/`, the
accelerators' hotplug and the jobs' records; `backends/`, llama-cpp and
OpenAI-compatible servers, each registered by its kind.
"""
