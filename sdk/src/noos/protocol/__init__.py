"""The wire contract of the noos services, imported by both ends.

One module per interface (`memory`, `index`, `scheduler`, `system`,
`service`) names its bus name, object path and interface, its option tables
(each key with its D-Bus type and meaning) and the codecs between its structs
and the SDK's dataclasses. `errors` holds the errors both ends raise,
`options` the machinery of option tables, `transport` how both ends reach the
bus, and `interfaces` every interface's keyed `a{sv}`s by name. The SDK's
clients and the services' facades both import these modules, so nothing of
the wire is spelled twice. Nothing here calls a service: a service core may
import it freely.
"""
