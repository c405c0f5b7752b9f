"""The options several commands share, declared and checked once: the profile, and profile 2's language model
(`prove`, `serve` and `mcp` take the same `--llm…` options)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .strategies import PROFILES

__all__ = ["LLM_OPTIONS", "check_llm", "check_profile", "err", "with_llm_options"]

err = Console(stderr=True)


# profile 2's settings, the same in `prove`, `serve` and `mcp` (`with_llm_options` adds them to a command)
LLM_OPTIONS: dict[str, tuple[Any, Any]] = {  # name -> (its type, its typer option)
    "llm": (str, typer.Option("", "--llm", envvar="AUTOPROVE_LLM", help="profile 2: the language model, "
                              "openai:<model> (any OpenAI-compatible server; $OPENAI_API_KEY) or anthropic:<model> "
                              "($ANTHROPIC_API_KEY); the file's text is sent to it")),
    "llm_base_url": (Optional[str], typer.Option(None, "--llm-base-url", envvar="AUTOPROVE_LLM_BASE_URL",
                                                 help="profile 2: the server's URL, e.g. http://127.0.0.1:8080/v1")),
    "llm_rounds": (int, typer.Option(3, help="profile 2: whole proofs per goal once the search ends (the first and "
                                     "its repairs)")),
    "llm_step_calls": (int, typer.Option(4, help="profile 2: states per goal the model is asked next tactics for "
                                         "during the search (0: none)")),
    "llm_timeout": (float, typer.Option(60.0, help="profile 2: seconds one model call may take")),
    "llm_max_tokens": (int, typer.Option(1024, help="profile 2: the longest answer asked for, in tokens")),
    "llm_seconds": (float, typer.Option(120.0, help="profile 2: seconds the whole-proof phase may take per goal")),
    "llm_calls": (Optional[int], typer.Option(None, help="profile 2: at most this many model calls in the run")),
    "llm_tokens": (Optional[int], typer.Option(None, help="profile 2: at most this many tokens in the run")),
    "llm_dollars": (Optional[float], typer.Option(None, help="profile 2: at most this much money in the run "
                                                  "(prices: $AUTOPROVE_LLM_PRICES)")),
}


def with_llm_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with LLM_OPTIONS added to its options; it receives them checked, as ProveOptions fields, in its
    parameter `llm_settings` (exit 2 with one line when the profile is wrong or profile 2 has no usable model)."""
    import functools
    import inspect

    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "llm_settings"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=kind)
             for name, (kind, opt) in LLM_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(*args: Any, **kw: Any) -> None:
        given = {name: kw.pop(name) for name in LLM_OPTIONS}
        check_profile(kw["profile"])
        check_llm(kw["profile"], given["llm"], given["llm_base_url"])
        renamed = {"llm_calls": "llm_run_calls", "llm_tokens": "llm_run_tokens", "llm_dollars": "llm_run_dollars"}
        return command(*args, llm_settings={renamed.get(k, k): v for k, v in given.items()}, **kw)

    del wrapper.__wrapped__  # typer reads the signature below, not the command's
    wrapper.__signature__ = sig.replace(parameters=own + added)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
    return wrapper


def check_llm(profile: int, llm: str, base_url: str | None) -> None:
    """Profile 2 needs a usable language model: exit 2 with one line when it has none (nothing is sent anywhere
    unless one is configured)."""
    if profile < 2:
        if llm:
            err.print("[yellow]note:[/] --llm is used by profile 2 only; this run sends nothing to it")
        return
    if not llm:
        err.print("[red]error:[/] profile 2 asks a language model: configure one with --llm openai:<model> "
                  "(and --llm-base-url for a local server) or --llm anthropic:<model>")
        raise typer.Exit(2)
    from .llm.providers import LLMError, provider_from_spec

    try:
        provider_from_spec(llm, base_url=base_url)
    except LLMError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)


def check_profile(profile: int) -> None:
    if profile not in PROFILES:
        err.print(f"[red]error:[/] --profile must be one of {', '.join(map(str, PROFILES))}")
        raise typer.Exit(2)
