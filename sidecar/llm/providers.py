"""Language-model providers behind one call: the Anthropic Messages API (`anthropic`) and any OpenAI-compatible
server (`openai` with a base URL: vLLM, llama.cpp, Ollama, a hosted API).

A provider knows the wire and nothing of proofs: `complete(system, prefix, prompt)` returns the text and the usage.
`prefix` is the part of the prompt shared by every call about one file (its text before the goal): the Anthropic
client marks it for prompt caching. Every failure is an `LLMError` with one reason from a fixed set, so that the
search goes on without the model and the report says why. Keys come from the environment only; nothing is sent
anywhere unless a provider was configured.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Completion", "LLMError", "Provider", "REASONS", "provider_from_spec"]

REASONS = ("unavailable", "unreachable", "rate-limited", "server-error", "refused", "malformed", "timeout",
           "budget")


class LLMError(Exception):
    """A call that gave no usable answer; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    seconds: float = 0.0


class Provider:
    """One configured model: `name` is "<kind>:<model>" (what the ledger and the price table use).

    `complete` retries a rate limit or a server error (`retries` times, backing off) but never a timeout: one call
    never takes longer than its timeout (the SDKs' own retries, which also retry timeouts, are off)."""

    kind = ""

    def __init__(self, model: str, *, base_url: str | None = None, timeout: float = 60.0, retries: int = 2) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.model}"

    def complete(self, system: str, prefix: str, prompt: str, max_tokens: int = 1024,
                 timeout: float | None = None) -> Completion:
        """One answer within `timeout` seconds in all (at most the provider's own timeout)."""
        deadline = time.monotonic() + min(self.timeout, timeout if timeout is not None else self.timeout)
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LLMError("timeout", f"no answer within {self.timeout:g} s")
            try:
                return self._complete(system, prefix, prompt, max_tokens, left)
            except LLMError as e:
                if e.reason not in ("rate-limited", "server-error") or attempt == self.retries:
                    raise
                time.sleep(min(max(0.0, deadline - time.monotonic()), 0.5 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _complete(self, system: str, prefix: str, prompt: str, max_tokens: int, timeout: float) -> Completion:
        raise NotImplementedError


class OpenAICompatible(Provider):
    """Chat Completions at `base_url` (default OpenAI's); key from $OPENAI_API_KEY (a local server needs none)."""

    kind = "openai"

    def __init__(self, model: str, **kw: object) -> None:
        super().__init__(model, **kw)  # type: ignore[arg-type]
        openai = _sdk("openai")
        self._errors = openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=os.environ.get("OPENAI_API_KEY") or "none",
                                     timeout=self.timeout, max_retries=0)

    def _complete(self, system: str, prefix: str, prompt: str, max_tokens: int, timeout: float) -> Completion:
        t0 = time.monotonic()
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": (prefix + "\n\n" + prompt) if prefix else prompt}]
        try:
            r = self._client.chat.completions.create(model=self.model, messages=messages,  # type: ignore[arg-type]
                                                     max_tokens=max_tokens, temperature=0.2, timeout=timeout)
        except Exception as e:
            raise _mapped(self._errors, e) from e
        try:
            text = r.choices[0].message.content or ""
            usage = r.usage
            cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0
            return Completion(text, int(getattr(usage, "prompt_tokens", 0) or 0),
                              int(getattr(usage, "completion_tokens", 0) or 0), int(cached), 0,
                              time.monotonic() - t0)
        except (AttributeError, IndexError, TypeError, ValueError) as e:
            raise LLMError("malformed", f"an answer without a message: {e}") from e


class AnthropicMessages(Provider):
    """The Messages API (`base_url` for a proxy); key from $ANTHROPIC_API_KEY. The file's text before the goal is
    sent as a cached block, so a file's later goals pay for it once."""

    kind = "anthropic"

    def __init__(self, model: str, **kw: object) -> None:
        super().__init__(model, **kw)  # type: ignore[arg-type]
        anthropic = _sdk("anthropic")
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMError("unavailable", "ANTHROPIC_API_KEY is not set")
        self._errors = anthropic
        self._client = anthropic.Anthropic(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=0)

    def _complete(self, system: str, prefix: str, prompt: str, max_tokens: int, timeout: float) -> Completion:
        t0 = time.monotonic()
        content: list[dict[str, object]] = []
        if prefix:
            content.append({"type": "text", "text": prefix, "cache_control": {"type": "ephemeral"}})
        content.append({"type": "text", "text": prompt})
        try:
            r = self._client.messages.create(model=self.model, system=system, max_tokens=max_tokens,
                                             messages=[{"role": "user", "content": content}],  # type: ignore[arg-type]
                                             timeout=timeout)
        except Exception as e:
            raise _mapped(self._errors, e) from e
        try:
            text = "".join(b.text for b in r.content if getattr(b, "type", "") == "text")
            u = r.usage
            return Completion(text, int(u.input_tokens or 0), int(u.output_tokens or 0),
                              int(getattr(u, "cache_read_input_tokens", 0) or 0),
                              int(getattr(u, "cache_creation_input_tokens", 0) or 0), time.monotonic() - t0)
        except (AttributeError, TypeError, ValueError) as e:
            raise LLMError("malformed", f"an answer without text: {e}") from e


def _sdk(name: str) -> Any:
    """The provider's SDK module (extra `llm`), or LLMError("unavailable") saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise LLMError("unavailable", "the `llm` extra is not installed (pip install 'auto-prove[llm]')") from e


def _mapped(sdk: object, e: Exception) -> LLMError:
    """An SDK's exception as an LLMError (both SDKs name their errors alike)."""
    def isa(name: str) -> bool:
        cls = getattr(sdk, name, None)
        return isinstance(cls, type) and isinstance(e, cls)

    msg = " ".join(str(e).split())[:300]
    if isa("APITimeoutError"):
        return LLMError("timeout", msg)
    if isa("APIConnectionError"):
        return LLMError("unreachable", msg)
    if isa("RateLimitError"):
        return LLMError("rate-limited", msg)
    if isa("InternalServerError"):
        return LLMError("server-error", msg)
    if isa("APIResponseValidationError"):
        return LLMError("malformed", msg)
    if isa("APIStatusError"):
        status = getattr(e, "status_code", 0) or 0
        return LLMError("server-error" if status >= 500 else "refused", msg)
    return LLMError("malformed", f"{type(e).__name__}: {msg}")


def provider_from_spec(spec: str, *, base_url: str | None = None, timeout: float = 60.0) -> Provider:
    """`openai:<model>` or `anthropic:<model>` (the `--llm` option, $AUTOPROVE_LLM).

    Raises:
        LLMError("unavailable"): an unknown kind, no model, a missing SDK or key.
    """
    kind, _, model = spec.partition(":")
    if not model:
        raise LLMError("unavailable", f"--llm wants <provider>:<model>, e.g. openai:qwen2.5-coder (got {spec!r})")
    if kind == "openai":
        return OpenAICompatible(model, base_url=base_url, timeout=timeout)
    if kind == "anthropic":
        return AnthropicMessages(model, base_url=base_url, timeout=timeout)
    raise LLMError("unavailable", f"unknown provider {kind!r} (openai, anthropic)")
