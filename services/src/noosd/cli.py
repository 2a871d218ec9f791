"""`noosd`: run one noos service, or list those registered."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import signal
import sys
from pathlib import Path

from noos.protocol.transport import BUS_ADDRESS_ENV, bus_address
from noosd.runtime.errors import StartupError
from noosd.runtime.gate import DEFAULT_MAX_IN_FLIGHT
from noosd.runtime.host import HostOptions
from noosd.runtime.introspection import write_interfaces
from noosd.runtime.logs import LOG_LEVELS, configure_logging
from noosd.runtime.registry import UnknownService, load_service, registered_services
from noosd.runtime.run import run_service
from noosd.runtime.service import Service
from noosd.runtime.settings import SettingsError

EXIT_FAILURE = 1
EXIT_USAGE = 2
# A setting is unusable (sysexits.h's EX_CONFIG): noosd@.service's
# RestartPreventExitStatus= names it, so that the unit fails at once and stays
# failed rather than restarting into the same error.
EXIT_CONFIG = 78
# The services share few cores: numerical libraries get one thread each unless
# the environment says otherwise. OpenBLAS's default (a thread per core) made
# the memory store's 1 ms matrix search take 24 ms on two busy cores. Set before
# any service imports numpy.
ONE_THREAD_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parser(
    service_class: type[Service] | None = None, add_help: bool = True
) -> argparse.ArgumentParser:
    """noosd's arguments; with `service_class`, its help lists that service's settings."""
    parser = argparse.ArgumentParser(
        prog="noosd",
        description="Run one noos D-Bus service until SIGTERM or SIGINT.",
        epilog=service_class.settings_table.help_text() if service_class else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=add_help,
    )
    parser.add_argument("service", nargs="?", help="the service to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the registered services")
    parser.add_argument(
        "--bus",
        metavar="ADDRESS",
        help=f"the bus to serve on (default: ${BUS_ADDRESS_ENV}, else the system bus)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument(
        "--max-in-flight",
        type=positive_int,
        default=DEFAULT_MAX_IN_FLIGHT,
        metavar="N",
        help="calls served at once, all callers together, one uid at most half "
        "of what others leave; more fail with org.noos.Error.Busy "
        f"(default: {DEFAULT_MAX_IN_FLIGHT})",
    )
    parser.add_argument(
        "--write-interfaces",
        type=Path,
        metavar="DIR",
        help="write the service's introspection XML files into DIR, and exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    for variable, value in ONE_THREAD_ENVIRONMENT.items():
        os.environ.setdefault(variable, value)
    # The service is found first, so that `noosd NAME --help` lists its settings.
    service_name = parser(add_help=False).parse_known_args(argv)[0].service
    try:
        service_class = load_service(service_name) if service_name else None
    except UnknownService as error:
        print(f"noosd: {error}", file=sys.stderr)
        return EXIT_USAGE
    args = parser(service_class).parse_args(argv)
    if args.list:
        for name, point in sorted(registered_services().items()):
            print(f"{name}\t{point.value}")
        return 0
    if service_class is None:
        parser().error("name a service to run, or --list")
    if args.write_interfaces:
        # Built from the defaults: writing XML reads no setting, no hardware, no model.
        service = service_class(service_class.settings_table.defaults())
        for path in write_interfaces(service, args.write_interfaces):
            print(path)
        return 0
    try:
        service = service_class.configured()
    except SettingsError as error:
        # One line for the journal: the file, the key and why. A traceback
        # would tell an administrator nothing more.
        print(f"noosd: {args.service}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(f"noosd-{args.service}", args.log_level)
    # Every thread's stack to stderr (the journal): when the watchdog kills a
    # stuck service (SIGABRT), on a crash, and on demand with SIGUSR1
    # (`systemctl kill -s USR1 noosd@NAME`), which the e2e driver sends when a
    # wait on a service runs long.
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    options = HostOptions(bus_address=bus_address(args.bus), max_in_flight=args.max_in_flight)
    try:
        return asyncio.run(run_service(service, options))
    except StartupError as error:
        print(f"noosd: cannot start {service_class.bus_name}: {error}", file=sys.stderr)
        return EXIT_FAILURE
