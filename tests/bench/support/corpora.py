"""Synthetic texts for the memory benchmarks, deterministic from a seed.

Real interaction logs cannot ship with the repo, so the texts are built from
templates over vocabularies large enough that 100,000 of them are distinct and
read like a user's notes, commands and conversations. They are short (about 10
word pieces) on purpose: embedding is the cold-cache cost, and it grows with length.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def phrases(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


PEOPLE = words(
    "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert "
    "Sybil Trent Victor Walter Yusuf Zoe Amara Bram Chen Dmitri Elif Farah Goran Hana Ines "
    "Jonas Kenji Lena Mateo Nadia Omar Priya Quentin Rosa Sven Tariq Uma Vera Wen Ximena Yara"
)
PROJECTS = words(
    "atlas borealis cinder dune ember fjord granite harbor iris juniper kestrel lumen mosaic "
    "nimbus onyx pebble quartz raven sierra tundra umbra vortex willow xenon yonder zephyr "
    "noos-shell noos-memory billing-api auth-gateway data-lake mobile-app web-frontend "
    "search-indexer payment-worker report-service build-farm infra-terraform docs-site"
)
THINGS = phrases(
    "the backup script|the release checklist|the VPN config|the staging database|the SSH key|"
    "the CI pipeline|the Docker image|the nginx config|the cron job|the test fixtures|"
    "the API token|the design doc|the migration script|the disk quota|the printer driver|"
    "the wifi password|the calendar invite|the expense report|the laptop charger|"
    "the monitoring dashboard|the DNS record|the TLS certificate|the kernel module|"
    "the GPU driver|the Python venv|the lock file|the flaky test|the memory leak|"
    "the log rotation|the firewall rule|the onboarding guide|the budget sheet"
)
ACTIONS = phrases(
    "fixed|updated|broke|reviewed|rewrote|moved|renamed|deleted|restored|documented|"
    "benchmarked|debugged|deployed|rolled back|archived|shared|tested|refactored"
)
PLACES = phrases(
    "in the shared drive|on the NAS|in the wiki|on the team board|in the home folder|"
    "on the build server|in the second drawer|in the notes app|on the old laptop|"
    "in the password manager|on the staging cluster|in the ops channel"
)
TIMES = phrases(
    "on Monday|on Tuesday morning|on Wednesday|last Thursday|on Friday evening|"
    "over the weekend|before lunch|after the standup|at midnight|at 2am|next sprint|"
    "at the end of the month|in March|in April|in June|in September|in November|yesterday|"
    "this morning|tonight"
)
FEELINGS = words("happy annoyed relieved worried excited tired confused proud curious frustrated")
TOPICS = phrases(
    "hiking|sourdough baking|chess|the new phone|jazz records|marathon training|gardening|"
    "learning Rust|the kids' school|a trip to Lisbon|climbing|photography|the tax return|"
    "buying a bike|moving flats|a board game night|the dentist|a sci-fi novel|pottery|"
    "sailing"
)

MEMORY_TEMPLATES = (
    "{person} {action} {thing} {time}",
    "{thing} of {project} is {place}",
    "check {thing} of {project} {time}",
    "felt {feeling} about {thing} {time}",
    "{person} talked about {topic} {time}",
    "{person} recommended {topic}",
    "{project} build broke: {thing} {action}",
    "{thing} moved {place}",
    "{person} owes me a reply on {project}",
    "meet {person} {time} about {project}",
    "ticket {number}: {thing} in {project}",
    "{project} ships {time}, says {person}",
)
QUERY_TEMPLATES = (
    "what happened to {thing} in {project}?",
    "where is {thing} kept?",
    "what did {person} say about {project}?",
    "when did I talk with {person} about {topic}?",
    "why did the {project} build fail?",
    "who {action} {thing}?",
)


def _slots(rng: random.Random) -> dict[str, str]:
    return {
        "person": rng.choice(PEOPLE),
        "project": rng.choice(PROJECTS),
        "thing": rng.choice(THINGS),
        "action": rng.choice(ACTIONS),
        "place": rng.choice(PLACES),
        "time": rng.choice(TIMES),
        "feeling": rng.choice(FEELINGS),
        "topic": rng.choice(TOPICS),
        "number": str(rng.randrange(100, 10_000)),
    }


def varied_memories(count: int, seed: int = 1) -> list[str]:
    """`count` distinct note-like texts."""
    rng = random.Random(seed)
    texts: dict[str, None] = {}  # an ordered set: the same seed, the same order
    while len(texts) < count:
        texts[rng.choice(MEMORY_TEMPLATES).format(**_slots(rng))] = None
    return list(texts)


def recall_queries(count: int, seed: int = 2) -> list[str]:
    """Questions a user would ask of such memories (not copies of them)."""
    rng = random.Random(seed)
    return [rng.choice(QUERY_TEMPLATES).format(**_slots(rng)) for _ in range(count)]


# The stream: what a shell user does all day, mostly the same few things.
TRIVIAL_COMMANDS = phrases(
    "ls|ls -la|ls -lh|ll|pwd|clear|cd ..|cd -|cd ~|git status|git diff|git log --oneline|"
    "git pull|git push|git fetch|git branch|git stash|make|make test|htop|df -h|free -m|"
    "history|exit|whoami|uptime|date|top|docker ps|kubectl get pods|python3|ipython|"
    "sudo apt update|sudo apt upgrade|journalctl -f|systemctl status|ip a|ping 1.1.1.1"
)
TRIVIAL_ARGUMENT_TEMPLATES = (
    "cd ~/src/{project}",
    "cd ~/src/{project}/{module}",
    "vim {module}/{file}",
    "cat {file}",
    "less {module}/{file}",
    "git add {module}/{file}",
    "git checkout {branch}",
    "git diff {branch} -- {module}",
    "pytest tests/test_{module}.py",
    "pytest tests/test_{module}.py -k {word}",
    "grep -rn {word} {module}/",
    "ls ~/src/{project}/{module}",
    "docker logs {project}-{module}",
    "make -C {module} {target}",
)
FILES = words(
    "README.md main.py setup.cfg Makefile config.yaml app.py utils.py notes.txt todo.md "
    "server.go index.ts Cargo.toml Dockerfile .bashrc requirements.txt schema.sql"
)
BRANCHES = words("main develop feature/login fix/crash release/2.1 wip spike/cache")
MODULES = words("api auth cache db models parser queue routes storage views")
TARGETS = words("all test lint clean install build check docs")
WORDS = words("TODO FIXME timeout retry password config import error cache token")


def trivial_vocabulary(per_template: int = 250, seed: int = 3) -> list[str]:
    """The bounded set of everyday commands the stream repeats: a couple of thousand."""
    rng = random.Random(seed)
    texts = dict.fromkeys(TRIVIAL_COMMANDS)
    for template in TRIVIAL_ARGUMENT_TEMPLATES:
        for _ in range(per_template):
            texts[
                template.format(
                    project=rng.choice(PROJECTS),
                    file=rng.choice(FILES),
                    branch=rng.choice(BRANCHES),
                    module=rng.choice(MODULES),
                    word=rng.choice(WORDS),
                    target=rng.choice(TARGETS),
                )
            ] = None
    return list(texts)


@dataclass(frozen=True)
class ImportantEvent:
    """A fact worth keeping, its kind of memory, and how the user would later ask for it."""

    text: str
    query: str
    kind: str


# (memory, question, kind): the question paraphrases rather than copies; the
# kinds are the store's (a fixed error is a note the user would keep).
FACT_TEMPLATES = (
    (
        "the {project} deploy key lives {place}, label {code}",
        "where is the deploy key for {project}?",
        "fact",
    ),
    (
        "{person}'s phone number is {phone}",
        "what is {person}'s phone number?",
        "fact",
    ),
    (
        "fixed: {project} tests hung on {thing}; the cure was setting TIMEOUT={number}",
        "how did I fix the hanging {project} tests?",
        "note",
    ),
    (
        "error 'ECONNRESET {code}' in {project} went away after pinning urllib3 to {version}",
        "what fixed the ECONNRESET {code} error in {project}?",
        "note",
    ),
    (
        "{person} prefers code reviews for {project} {time}",
        "when does {person} want {project} reviews?",
        "fact",
    ),
    (
        "the {project} server is {host}, port {port}",
        "what host and port does {project} run on?",
        "fact",
    ),
    (
        "{person}'s birthday is {date}; they like {topic}",
        "when is {person}'s birthday?",
        "fact",
    ),
    (
        "to rebuild {project} after a crash run 'make clean-{code}' then restart {service}",
        "how do I recover {project} after a crash?",
        "note",
    ),
)
MONTHS = "January February March April May June July August September October November December"
SERVICES = words("nginx postgres redis rabbitmq cups sshd docker kubelet")


def important_events(count: int, seed: int = 4) -> list[ImportantEvent]:
    """`count` distinct facts and fixed errors, each with a question that finds it.

    Every fact names its own entities (a project and a code, a person and a
    number), so they are told apart by content, not by template.
    """
    rng = random.Random(seed)
    seen: dict[str, ImportantEvent] = {}
    asked: set[str] = set()
    while len(seen) < count:
        memory, question, kind = rng.choice(FACT_TEMPLATES)
        person = f"{rng.choice(PEOPLE)} {rng.choice(PEOPLE)}son"
        slots = {
            **_slots(rng),
            "person": person,
            "project": f"{rng.choice(PROJECTS)}-{rng.randrange(10, 100)}",
            "code": f"{rng.choice('ABCDEFGHKMNPRSTX')}{rng.randrange(100, 1000)}",
            "phone": f"+44 7{rng.randrange(100, 1000)} {rng.randrange(100000, 1000000)}",
            "version": f"1.26.{rng.randrange(1, 20)}",
            "host": f"{rng.choice(PROJECTS)}{rng.randrange(1, 99)}.internal",
            "port": str(rng.randrange(1024, 65000)),
            "date": f"{rng.randrange(1, 29)} {rng.choice(MONTHS.split())}",
            "service": rng.choice(SERVICES),
        }
        text, query = memory.format(**slots), question.format(**slots)
        # One fact per question: two facts that answer the same question would
        # make either a fair answer.
        if query not in asked:
            asked.add(query)
            seen.setdefault(text, ImportantEvent(text, query, kind))
    return list(seen.values())


def trivial_stream(vocabulary: list[str], seed: int = 5) -> Iterator[str]:
    """An endless stream of everyday commands: a few very common, a long tail (Zipf-like)."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    while True:
        yield from rng.choices(vocabulary, weights=weights, k=10_000)
