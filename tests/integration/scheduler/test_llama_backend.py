"""The llama-cpp backend with the real models the image ships: SmolLM2 (a chat
model with its own template) and Gemma 3 270M (a base model, no template).

Each model loads once for the module (two slots of 1,024 tokens, one thread
each); answers are short and greedy, so that they repeat exactly.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import llama_cpp
import pytest

from noos.protocol.errors import InvalidArgument
from noosd.scheduler.backends.base import (
    ChatMessage,
    Ending,
    Generation,
    GenerationError,
    KvState,
    ModelLoadError,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.backends.llama import LlamaCppBackend, LlamaCppRuntime
from noosd.scheduler.backends.llama_text import TextStream
from noosd.scheduler.core.catalog import Backend as BackendKind
from noosd.scheduler.core.catalog import ChatTemplate, ModelSpec, TemplateSource
from noosd.scheduler.core.jobs import Priority, Sampling
from tests.fixtures.models import shipped_models_tree

SMOLLM = Path("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
GEMMA = Path("gemma3-270m/gemma-3-270m-q4_k_m.gguf")
EMBEDDED = ChatTemplate(TemplateSource.EMBEDDED)
GREEDY = Sampling(temperature=0)
CONTEXT = 1024
# The uid of the jobs these runs stand for.
OWNER = 1000
# SmolLM2's tokens: "<|im_start|>" (its BOS), "<|im_end|>" (its EOS, an end of generation).
IM_START, IM_END = 1, 2
GEMMA_BOS, END_OF_TURN = 2, 106

POEM = Prompt(messages=(ChatMessage("user", "Write a short poem about the sea."),))
STORY = Prompt(text="Once upon a time, in a small village by the mountains,")
# 575 tokens for Gemma: more than a batch (512), and than its sliding window (512).
COUNTING = Prompt(text="Count with me: " + " ".join(str(i) for i in range(170)))


def model_spec(
    path: Path, *, template: ChatTemplate = EMBEDDED, slots: int = 2, name: str = "model"
) -> ModelSpec:
    return ModelSpec(
        name=name,
        backend=BackendKind.LLAMA_CPP,
        location=str(path),
        context_length=CONTEXT,
        chat_template=template,
        ram_bytes=0,
        vram_bytes=0,
        load_seconds=0.0,
        priority=Priority.NORMAL,
        pinned=False,
        slots=slots,
        threads=1,
        default=False,
    )


class Recorder:
    """The engine's side of a run: keeps the text; asks `stop` once `after` tokens came."""

    def __init__(self, stop: Stop | None = None, after: int = 0) -> None:
        self.chunks: list[str] = []
        self.tokens = 0
        self._stop = stop
        self._after = after

    def stop_requested(self) -> Stop | None:
        return self._stop if self._stop is not None and self.tokens >= self._after else None

    def emit(self, text: str, tokens: int) -> None:
        self.chunks.append(text)
        self.tokens += tokens

    @property
    def text(self) -> str:
        return "".join(self.chunks)


class StopsAfterChecks(Recorder):
    """Asks `stop` once it has been asked `checks` times: between a prompt's batches."""

    def __init__(self, stop: Stop, checks: int) -> None:
        super().__init__()
        self._asked_stop = stop
        self._checks_left = checks

    def stop_requested(self) -> Stop | None:
        if self._checks_left:
            self._checks_left -= 1
            return None
        return self._asked_stop


@pytest.fixture(scope="module")
def models() -> Path:
    return shipped_models_tree()


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    return LlamaCppBackend()


@pytest.fixture(scope="module")
def smollm(models: Path) -> ModelSpec:
    return model_spec(models / SMOLLM, name="smollm2")


@pytest.fixture(scope="module")
def gemma(models: Path) -> ModelSpec:
    """Gemma chats in llama-cpp-python's "gemma" format; its raw text needs none."""
    return model_spec(models / GEMMA, template=ChatTemplate(TemplateSource.NAMED, "gemma"))


@pytest.fixture(scope="module")
def smollm_runtime(backend: LlamaCppBackend, smollm: ModelSpec) -> Iterator[LlamaCppRuntime]:
    runtime = backend.load(smollm)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def gemma_runtime(backend: LlamaCppBackend, gemma: ModelSpec) -> Iterator[LlamaCppRuntime]:
    runtime = backend.load(gemma)
    yield runtime
    runtime.close()


def job(
    backend: LlamaCppBackend,
    spec: ModelSpec,
    prompt: Prompt,
    max_tokens: int,
    sampling: Sampling = GREEDY,
    owner: int = OWNER,
) -> Generation:
    return Generation(
        prompt=prompt,
        tokens=tuple(backend.tokenize(spec, prompt)),
        sampling=sampling,
        max_tokens=max_tokens,
        owner=owner,
    )


def resumed(generation: Generation, outcome: Outcome) -> Generation:
    return replace(generation, generated=outcome.generated, start=outcome.state)


# Tokenizing


def test_chat_messages_are_rendered_by_the_models_own_template(
    backend: LlamaCppBackend, smollm: ModelSpec
) -> None:
    tokens = backend.tokenize(smollm, POEM)

    rendered = (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
        "Hugging Face<|im_end|>\n<|im_start|>user\nWrite a short poem about the sea."
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokens == backend.tokenize(smollm, Prompt(text=rendered))
    assert tokens[0] == IM_START and tokens.count(IM_END) == 2


def test_raw_text_starts_with_a_bos_only_for_a_model_that_wants_one(
    backend: LlamaCppBackend, smollm: ModelSpec, gemma: ModelSpec
) -> None:
    assert backend.tokenize(gemma, Prompt(text="Hello world"))[0] == GEMMA_BOS
    assert len(backend.tokenize(smollm, Prompt(text="Hello world"))) == 2


def test_a_named_chat_format_renders_a_base_models_chat(
    backend: LlamaCppBackend, gemma: ModelSpec
) -> None:
    tokens = backend.tokenize(gemma, Prompt(messages=(ChatMessage("user", "Hi"),)))

    rendered = "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert tokens == backend.tokenize(gemma, Prompt(text=rendered))
    assert tokens[0] == GEMMA_BOS and END_OF_TURN in tokens


def test_a_jinja_file_renders_the_chat(
    backend: LlamaCppBackend, smollm: ModelSpec, tmp_path: Path
) -> None:
    template = tmp_path / "chat.jinja"
    template.write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}")
    spec = model_spec(
        Path(smollm.location), template=ChatTemplate(TemplateSource.FILE, str(template))
    )

    tokens = backend.tokenize(spec, Prompt(messages=(ChatMessage("user", "Hi"),)))

    assert tokens == backend.tokenize(smollm, Prompt(text="[user] Hi\n"))


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (EMBEDDED, "declare chat_template"),
        (ChatTemplate(TemplateSource.NAMED, "no-such-format"), "does not exist"),
        (ChatTemplate(TemplateSource.NAMED, "functionary"), "not a prompt template"),
        (ChatTemplate(TemplateSource.FILE, "/nonexistent/chat.jinja"), "unreadable"),
    ],
)
def test_a_chat_that_cannot_be_rendered_is_an_invalid_argument(
    backend: LlamaCppBackend, models: Path, template: ChatTemplate, problem: str
) -> None:
    spec = model_spec(models / GEMMA, template=template)

    with pytest.raises(InvalidArgument, match=problem):
        backend.tokenize(spec, Prompt(messages=(ChatMessage("user", "Hi"),)))


def test_no_messages_and_no_text_tokenize_to_at_most_a_bos(
    backend: LlamaCppBackend, smollm: ModelSpec, gemma: ModelSpec
) -> None:
    assert backend.tokenize(smollm, Prompt()) == []
    assert backend.tokenize(gemma, Prompt()) == [GEMMA_BOS]


# Files that are no model


def truncated(source: Path, target: Path, size: int) -> Path:
    with source.open("rb") as model, target.open("wb") as copy:
        shutil.copyfileobj(model, copy)
        copy.truncate(size)
    return target


@pytest.fixture(scope="module")
def broken_files(models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("broken")
    model = models / SMOLLM
    text = root / "notes.gguf"
    text.write_text("not a model\n" * 100)
    empty = root / "empty.gguf"
    empty.touch()
    size = model.stat().st_size
    return {
        "missing": root / "missing.gguf",
        "directory": root,
        "text": text,
        "empty": empty,
        "metadata-only": truncated(model, root / "metadata-only.gguf", 4_000_000),
        "half": truncated(model, root / "half.gguf", size // 2),
        "last-byte-missing": truncated(model, root / "last-byte.gguf", size - 1),
    }


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ("missing", "does not exist"),
        ("directory", "cannot be read: Is a directory"),
        ("text", "is not a GGUF model"),
        ("empty", "is not a GGUF model"),
        ("metadata-only", "not within the file bounds"),
        ("half", "not within the file bounds"),
        ("last-byte-missing", "not within the file bounds"),
    ],
)
def test_a_file_that_is_no_whole_model_fails_to_load_and_to_tokenize(
    backend: LlamaCppBackend, broken_files: dict[str, Path], broken: str, problem: str
) -> None:
    spec = model_spec(broken_files[broken])

    with pytest.raises(ModelLoadError, match=problem):
        backend.load(spec)
    with pytest.raises(ModelLoadError, match=problem):
        backend.tokenize(spec, Prompt(text="Hello"))


# Generating


@pytest.fixture(scope="module")
def smollm_reference(smollm: ModelSpec) -> Iterator[llama_cpp.Llama]:
    """llama-cpp-python's own Llama on SmolLM2, to compare with."""
    llama = llama_cpp.Llama(
        smollm.location, n_ctx=512, n_threads=1, n_threads_batch=1, verbose=False
    )
    yield llama
    llama.close()


def test_greedy_tokens_are_llama_cpp_pythons(
    backend: LlamaCppBackend,
    smollm: ModelSpec,
    smollm_runtime: LlamaCppRuntime,
    smollm_reference: llama_cpp.Llama,
) -> None:
    generation = job(backend, smollm, POEM, max_tokens=20)
    recorder = Recorder()

    outcome = smollm_runtime.generate(0, generation, recorder)

    expected: list[int] = []
    for token in smollm_reference.generate(list(generation.tokens), temp=0.0):
        expected.append(token)
        if len(expected) == 20:
            break
    assert outcome.ending is Ending.FINISHED
    assert list(outcome.generated) == expected
    assert recorder.text == smollm_reference.detokenize(expected).decode()
    assert recorder.tokens == 20


@pytest.mark.parametrize(("model", "prompt"), [("smollm", POEM), ("gemma", STORY)])
def test_a_preempted_job_resumed_anywhere_answers_as_if_never_stopped(
    request: pytest.FixtureRequest, backend: LlamaCppBackend, model: str, prompt: Prompt
) -> None:
    spec: ModelSpec = request.getfixturevalue(model)
    runtime: LlamaCppRuntime = request.getfixturevalue(f"{model}_runtime")
    generation = job(backend, spec, prompt, max_tokens=24)
    whole = Recorder()
    uninterrupted = runtime.generate(0, generation, whole)

    first = Recorder(Stop.PREEMPT, after=5)
    preempted = runtime.generate(0, generation, first)
    # Another job takes the slot meanwhile.
    runtime.generate(0, job(backend, spec, Prompt(text="The capital of France is"), 4), Recorder())
    second = Recorder(Stop.PREEMPT, after=7)
    preempted_again = runtime.generate(0, resumed(generation, preempted), second)
    third = Recorder()
    evaluated = runtime.evaluated_tokens(1)
    finished = runtime.generate(1, resumed(generation, preempted_again), third)

    assert uninterrupted.ending is Ending.FINISHED
    assert (preempted.ending, len(preempted.generated)) == (Ending.PREEMPTED, 5)
    assert (preempted_again.ending, len(preempted_again.generated)) == (Ending.PREEMPTED, 12)
    assert finished.ending is Ending.FINISHED
    assert finished.generated == uninterrupted.generated
    assert first.text + second.text + third.text == whole.text
    # The restored state spares the prompt and the 12 tokens: the last of them
    # is evaluated, and the new ones but the last.
    assert runtime.evaluated_tokens(1) - evaluated == 24 - 12


def test_a_preempted_state_holds_the_context_but_the_token_last_sampled(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    generation = job(backend, smollm, POEM, max_tokens=20)

    outcome = smollm_runtime.generate(1, generation, Recorder(Stop.PREEMPT, after=3))

    assert outcome.state is not None
    assert outcome.state.tokens == generation.tokens + outcome.generated[:-1]
    # SmolLM2's KV: 30 layers of 3 heads of 64, keys and values in f16.
    assert outcome.state.size >= len(outcome.state.tokens) * 30 * 3 * 64 * 2 * 2


def test_a_resume_on_its_own_slot_evaluates_only_the_new_tokens(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    generation = job(backend, smollm, POEM, max_tokens=10)
    preempted = smollm_runtime.generate(1, generation, Recorder(Stop.PREEMPT, after=4))
    evaluated = smollm_runtime.evaluated_tokens(1)

    finished = smollm_runtime.generate(1, resumed(generation, preempted), Recorder())

    assert len(finished.generated) == 10
    assert smollm_runtime.evaluated_tokens(1) - evaluated == 10 - 4


def test_a_prompt_sharing_a_finished_jobs_prefix_evaluates_only_the_rest(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    system = ChatMessage("system", "You answer questions about ships. " * 50)
    first = job(backend, smollm, Prompt(messages=(system, ChatMessage("user", "Name a ship."))), 4)
    second = job(backend, smollm, Prompt(messages=(system, ChatMessage("user", "Why?"))), 4)
    done = smollm_runtime.generate(0, first, Recorder())
    evaluated = smollm_runtime.evaluated_tokens(1)

    answer = smollm_runtime.generate(1, replace(second, start=done.state), Recorder())

    assert done.state is not None and done.state.tokens == first.tokens + done.generated[:-1]
    shared = next(
        i for i, (a, b) in enumerate(zip(first.tokens, second.tokens, strict=False)) if a != b
    )
    assert shared > 300
    new = len(second.tokens) - shared
    assert smollm_runtime.evaluated_tokens(1) - evaluated == new + len(answer.generated) - 1


def test_another_users_prompt_starts_only_from_the_templates_opening(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    # How much of the context a prompt shares would show in its time to first
    # token: another user's guess of my prompt must evaluate all of it again
    # but what the template puts before my first message's text.
    system = ChatMessage("system", "You answer questions about ships. " * 20)
    mine = job(backend, smollm, Prompt(messages=(system, ChatMessage("user", "Name a ship."))), 2)
    smollm_runtime.generate(0, mine, Recorder())
    evaluated = smollm_runtime.evaluated_tokens(0)

    guess = smollm_runtime.generate(0, replace(mine, owner=OWNER + 1), Recorder())

    opening = len(backend.tokenize(smollm, Prompt(text="<|im_start|>system\n")))
    assert (
        smollm_runtime.evaluated_tokens(0) - evaluated
        == len(mine.tokens) - opening + len(guess.generated) - 1
    )


def test_a_question_after_another_users_starts_from_the_default_system_prompt(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    # SmolLM2's template opens a conversation with no system message with its
    # own system prompt: the same for everyone, so kept for the next user.
    theirs = job(backend, smollm, Prompt(messages=(ChatMessage("user", "Name a ship."),)), 2)
    smollm_runtime.generate(0, theirs, Recorder())
    evaluated = smollm_runtime.evaluated_tokens(0)
    mine = job(backend, smollm, Prompt(messages=(ChatMessage("user", "What is tea?"),)), 2)
    shared = next(
        n for n, (a, b) in enumerate(zip(theirs.tokens, mine.tokens, strict=False)) if a != b
    )

    answer = smollm_runtime.generate(0, replace(mine, owner=OWNER + 1), Recorder())

    assert shared > 20  # the default system prompt, and the header of the user's turn
    assert (
        smollm_runtime.evaluated_tokens(0) - evaluated
        == len(mine.tokens) - shared + len(answer.generated) - 1
    )


def test_a_long_prompt_can_be_preempted_between_its_batches(
    backend: LlamaCppBackend, gemma: ModelSpec, gemma_runtime: LlamaCppRuntime
) -> None:
    generation = job(backend, gemma, COUNTING, 4)
    batch = 512  # llama-cpp-python's n_batch

    preempted = gemma_runtime.generate(0, generation, StopsAfterChecks(Stop.PREEMPT, checks=1))
    evaluated = gemma_runtime.evaluated_tokens(1)
    finished = gemma_runtime.generate(1, resumed(generation, preempted), Recorder())

    assert (preempted.ending, preempted.generated) == (Ending.PREEMPTED, ())
    assert preempted.state is not None
    held = len(preempted.state.tokens)
    assert batch <= held < len(generation.tokens) - 1
    assert preempted.state.tokens == generation.tokens[:held]
    assert len(finished.generated) == 4
    assert gemma_runtime.evaluated_tokens(1) - evaluated == len(generation.tokens) - held + 3


def test_a_sliding_window_that_moved_on_is_not_reused_for_a_shorter_prompt(
    backend: LlamaCppBackend, gemma: ModelSpec, gemma_runtime: LlamaCppRuntime
) -> None:
    story = job(backend, gemma, STORY, 6)
    expected = gemma_runtime.generate(0, story, Recorder()).generated
    # A state saved past Gemma's 512-token sliding window leaves out the cells
    # the window has left behind, BOS first; slot 1 resumes from one.
    counting = job(backend, gemma, COUNTING, 2)
    preempted = gemma_runtime.generate(0, counting, StopsAfterChecks(Stop.PREEMPT, checks=1))
    gemma_runtime.generate(1, resumed(counting, preempted), Recorder())
    evaluated = gemma_runtime.evaluated_tokens(1)

    outcome = gemma_runtime.generate(1, story, Recorder())

    assert outcome.generated == expected
    assert gemma_runtime.evaluated_tokens(1) - evaluated == len(story.tokens) + 5


def test_a_state_llama_cpp_refuses_is_evaluated_again(
    backend: LlamaCppBackend,
    smollm: ModelSpec,
    smollm_runtime: LlamaCppRuntime,
    gemma: ModelSpec,
    gemma_runtime: LlamaCppRuntime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gemmas = gemma_runtime.generate(0, job(backend, gemma, STORY, 2), Recorder()).state
    assert gemmas is not None
    generation = job(backend, smollm, POEM, 4)
    expected = smollm_runtime.generate(0, generation, Recorder()).generated
    evaluated = smollm_runtime.evaluated_tokens(1)

    outcome = smollm_runtime.generate(
        1, replace(generation, start=KvState(gemmas.data, generation.tokens)), Recorder()
    )

    assert outcome.generated == expected
    assert smollm_runtime.evaluated_tokens(1) - evaluated == len(generation.tokens) + 3
    assert "refused a saved state" in caplog.text


def test_cancel_ends_the_run_at_once_without_a_state(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    recorder = Recorder(Stop.CANCEL, after=3)

    outcome = smollm_runtime.generate(0, job(backend, smollm, POEM, 20), recorder)

    assert outcome == Outcome(Ending.CANCELLED, outcome.generated)
    assert len(outcome.generated) == recorder.tokens == 3


def test_a_stop_asked_before_the_run_evaluates_nothing(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    state = KvState(b"", ())
    generation = replace(job(backend, smollm, STORY, 8), start=state)
    evaluated = smollm_runtime.evaluated_tokens(0)

    outcome = smollm_runtime.generate(0, generation, Recorder(Stop.PREEMPT))

    assert outcome == Outcome(Ending.PREEMPTED, (), state)
    assert smollm_runtime.evaluated_tokens(0) == evaluated


def test_the_end_of_generation_token_ends_the_answer_unshown(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    prompt = Prompt(messages=(ChatMessage("user", "Reply with one word: is water wet?"),))
    recorder = Recorder()

    outcome = smollm_runtime.generate(0, job(backend, smollm, prompt, 40), recorder)

    assert outcome.ending is Ending.FINISHED
    assert outcome.generated[-1] == IM_END and len(outcome.generated) < 40
    assert recorder.text and "<|im_end|>" not in recorder.text


def test_a_chat_formats_stop_string_ends_the_answer_unshown(
    backend: LlamaCppBackend,
    models: Path,
    smollm_reference: llama_cpp.Llama,
) -> None:
    # llama-cpp-python's "pygmalion" format stops at the end of a line.
    spec = model_spec(
        models / SMOLLM, template=ChatTemplate(TemplateSource.NAMED, "pygmalion"), slots=1
    )
    prompt = Prompt(messages=(ChatMessage("user", "List three fruits, one a line."),))
    runtime = backend.load(spec)
    recorder = Recorder()
    try:
        outcome = runtime.generate(0, job(backend, spec, prompt, 40), recorder)
    finally:
        runtime.close()

    whole = smollm_reference.detokenize(list(outcome.generated)).decode()
    assert outcome.ending is Ending.FINISHED and len(outcome.generated) < 40
    assert "\n" not in recorder.text and whole.startswith(recorder.text + "\n")


def test_characters_split_across_tokens_come_out_whole(
    backend: LlamaCppBackend,
    smollm: ModelSpec,
    smollm_runtime: LlamaCppRuntime,
    smollm_reference: llama_cpp.Llama,
) -> None:
    # SmolLM2 writes 🌟 in three tokens: F0 9F, 8C, 9F.
    prompt = Prompt(messages=(ChatMessage("user", "Write three emoji."),))
    recorder = Recorder()

    outcome = smollm_runtime.generate(0, job(backend, smollm, prompt, 15), recorder)

    assert recorder.text == smollm_reference.detokenize(list(outcome.generated)).decode()
    assert recorder.chunks == ["", "", "\N{GLOWING STAR}"] * 5


def test_a_character_cut_by_a_preemption_comes_out_whole_after_the_resume(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    generation = job(
        backend, smollm, Prompt(messages=(ChatMessage("user", "Write three emoji."),)), 6
    )
    before, after = Recorder(Stop.PREEMPT, after=4), Recorder()

    preempted = smollm_runtime.generate(0, generation, before)
    smollm_runtime.generate(1, resumed(generation, preempted), after)

    assert before.text == "\N{GLOWING STAR}"
    assert after.chunks == ["", "\N{GLOWING STAR}"]


def test_the_same_seed_samples_the_same_tokens_on_any_slot(
    backend: LlamaCppBackend, gemma: ModelSpec, gemma_runtime: LlamaCppRuntime
) -> None:
    sampling = Sampling(temperature=1.0, top_p=0.9, top_k=50, seed=7)
    generation = job(backend, gemma, STORY, 12, sampling)

    first = gemma_runtime.generate(0, generation, Recorder())
    second = gemma_runtime.generate(1, generation, Recorder())

    assert first.generated == second.generated


def test_a_run_that_cannot_fit_is_a_generation_error(
    backend: LlamaCppBackend, smollm: ModelSpec, smollm_runtime: LlamaCppRuntime
) -> None:
    too_long = job(backend, smollm, STORY, CONTEXT)
    empty = Generation(prompt=Prompt(), tokens=(), sampling=GREEDY, max_tokens=4, owner=OWNER)

    with pytest.raises(GenerationError, match="exceed its context of 1024 tokens"):
        smollm_runtime.generate(0, too_long, Recorder())
    with pytest.raises(GenerationError, match="no tokens"):
        smollm_runtime.generate(0, empty, Recorder())


def test_slots_generate_at_once_while_prompts_tokenize(
    backend: LlamaCppBackend, gemma: ModelSpec, gemma_runtime: LlamaCppRuntime
) -> None:
    jobs = [job(backend, gemma, STORY, 12), job(backend, gemma, Prompt(text="def fib(n):"), 12)]
    alone = [gemma_runtime.generate(slot, jobs[slot], Recorder()).generated for slot in (0, 1)]
    # The other slot's last run, so that neither starts from its own prefix.
    together: list[tuple[int, ...]] = [(), ()]
    tokenized: list[list[int]] = []

    def run(slot: int) -> None:
        together[slot] = gemma_runtime.generate(slot, jobs[1 - slot], Recorder()).generated

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        tokenized.append(backend.tokenize(gemma, STORY))
    for thread in threads:
        thread.join()

    assert together == [alone[1], alone[0]]
    assert tokenized and all(tokens == list(jobs[0].tokens) for tokens in tokenized)


def test_a_closed_runtime_refuses_to_generate(backend: LlamaCppBackend, models: Path) -> None:
    spec = model_spec(models / SMOLLM, slots=1)
    runtime = backend.load(spec)
    generation = job(backend, spec, STORY, 4)

    runtime.close()

    with pytest.raises(GenerationError, match="unloaded"):
        runtime.generate(0, generation, Recorder())


# The text stream, on its own


def test_a_character_split_across_pieces_comes_with_its_last_byte() -> None:
    stream = TextStream()
    star = "\N{GLOWING STAR}".encode()

    shown = [stream.push(b"a" + star[:1]), stream.push(star[1:3]), stream.push(star[3:])]

    assert shown == ["a", "", "\N{GLOWING STAR}"]
    assert stream.finish() == ""


def test_text_that_may_begin_a_stop_string_waits_for_the_next_pieces() -> None:
    stream = TextStream(["###", "\nUser:"])

    shown = [stream.push(b"one\n"), stream.push(b"Us"), stream.push(b"a two #"), stream.push(b"#!")]

    assert shown == ["one", "", "\nUsa two ", "##!"]
    assert not stream.stopped


def test_a_stop_string_and_what_follows_are_cut() -> None:
    stream = TextStream(["###"])

    shown = [stream.push(b"answer #"), stream.push(b"## more")]

    assert shown == ["answer ", ""]
    assert stream.stopped
