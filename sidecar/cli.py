"""The `auto-prove` command line: a thin shell over workspace → scheduler → report."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import __version__
from .cli_branch import check_branch as _check_branch
from .cli_branch import commit_branch as _commit_branch
from .cli_options import check_profile as _check_profile
from .cli_options import err, with_llm_options
from .cli_sync import sync_app
from .cli_tickets import print_tickets, tickets_cmd
from .errors import AutoProveError, LedgerError, ProverUnavailable
from .governor import tree_cpu_seconds
from .strategies import DEFAULT_PROFILE

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Background proof search for Coq admits and Lean sorries; only verified proofs are offered.")
console = Console(stderr=False)

BACKENDS = ("auto", "coq", "lean")
PROFILE_VAR = "AUTOPROVE_PROFILE"  # the profile when --profile is not given
PROFILE_HELP = f"strategy profile: 1 learns from the proofs the goal's file may see, 0 is deterministic " \
    f"(default {DEFAULT_PROFILE}, or ${PROFILE_VAR})"
# profile 1 on the command line: what a run may spend replaying libraries for the first time before its search starts
# (the demo's libraries take about 8 minutes in all on this machine; a one-shot run should not wait for all of them)
HARVEST_SECONDS = 60.0


def _imports(extra: Optional[list[str]], no_defaults: bool) -> tuple[str, ...]:
    from .scheduler import DEFAULT_IMPORTS

    return tuple(dict.fromkeys((() if no_defaults else DEFAULT_IMPORTS) + tuple(extra or ())))


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def _guard() -> None:
    """For commands that start provers: clean up after auto-prove processes that died, and make sure nothing this
    one starts outlives it (procs.guard_tree)."""
    from .procs import guard_tree

    guard_tree()


def _build_dependencies(progress, task, files: list[Path], cpu: float):  # type: ignore[no-untyped-def]
    """`build.build_dependencies` of Coq `files` on the progress bar's "building dependencies" task."""
    from .build import build_dependencies

    base = progress.tasks[task].total or 0

    def show(done: int, total: int, f: Optional[Path]) -> None:
        progress.update(task, total=base + total, completed=base + done, detail=escape(f.name) if f else "")

    built = build_dependencies(files, jobs=max(1, int(cpu * (os.cpu_count() or 1))), progress=show)
    n = progress.tasks[task].fields.get("built", 0) + len(built.built)  # over the run (rebuilt after --write)
    progress.update(task, built=n, detail=f"{n} built, {len(built.up_to_date) + len(built.in_place)} up to date"
                    + (f", {len(built.failures)} failed" if built.failures else ""))
    return built


def _prepare_learning(progress, goals, root: Path, needs, harvest_seconds: float):  # type: ignore[no-untyped-def]
    """Profile 1: what each file's goals may learn from, harvested before the search (a progress task; replaying a
    library's proofs happens once per machine, then comes from the cache). Libraries past `harvest_seconds` of
    first-time replay wait: the scheduler harvests them in the background while the goals go on, and what is done
    by the end of the run stays in the cache for the next."""
    from .learn.service import Learning

    learning = Learning(root, library_seconds=max(0.0, harvest_seconds))
    first = {}
    for g in goals:
        if g.fillable and g.backend == "coq":
            first.setdefault(g.file, g)
    task = progress.add_task("harvesting proofs", total=len(first), detail="")
    for f, g in first.items():
        progress.update(task, detail=escape(f.name))
        learning.prepare(g, needs.get(f, ()), on_source=lambda done, total, f=f: progress.update(
            task, detail=f"{escape(f.name)}: {done}/{total} sources"))
        progress.update(task, advance=1, detail=f"{len(learning.tactics)} tactic examples")
    if learning.deferred:
        n = len(learning.deferred)
        err.print(f"[yellow]note:[/] profile 1: {n} librar{'y' if n == 1 else 'ies'} not yet harvested on this machine "
                  f"(past --harvest-seconds {harvest_seconds:g}); harvested while the search runs, kept for later runs")
    return learning


def _graceful_termination(close: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGHUP (an editor closing, a terminal hung up) end a long-running command with its clean-up
    (provers closed, the endpoint file removed): `close()` then exit, or without `close` the way Ctrl-C does. A second
    signal ends it at once; its children die with it either way (procs.py)."""

    def stop(signum: int, frame: object) -> None:
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        if close is None:
            raise SystemExit(128 + signum)
        try:
            close()
        finally:  # not SystemExit: the language server's stdin reader would keep the process waiting
            os._exit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, stop)


def _neural_model(model: Optional[Path]) -> str:
    """The neural model folder for the search ("" when none): loaded here, once, so that a folder it cannot use is
    said in one line before the search starts (which then goes on without it)."""
    if model is None:
        return ""
    from .learn.neural import preload

    why = preload(model)
    if why:
        err.print(f"[yellow]warning:[/] {escape(why)}; searching without it")
        return ""
    return str(model)


def _service_root(root: Path, cpu: float, profile: int) -> Path:
    """The checked settings of a long-running service (`serve`, `mcp`): its project folder, resolved; exit 2 with
    one line when a setting is wrong."""
    if not 0.1 <= cpu <= 1.0:
        err.print("[red]error:[/] --cpu must be between 0.1 and 1.0")
        raise typer.Exit(2)
    _check_profile(profile)
    root = root.resolve()
    if not root.is_dir():
        err.print(f"[red]error:[/] not a folder: {escape(str(root))}")
        raise typer.Exit(2)
    return root


def _blueprint_ranks(root: Path, goals: list, whole: bool) -> dict[str, float]:  # type: ignore[type-arg]
    """The order the project's blueprint gives its open goals (blueprint/priority.py; {} without one), said once;
    for a whole Coq project without blueprint, the order of the graph Coq gives."""
    from .blueprint.priority import project_blueprint, read_ranks

    ranks = read_ranks(root, [g.lemma for g in goals if g.fillable], coq=whole)
    ahead = sum(r < 1.0 for r in ranks.values())
    if ahead:
        what = "blueprint" if project_blueprint(root) is not None else "dependency graph (Coq's)"
        err.print(f"[dim]note:[/] the project's {what} puts {ahead} of the goals first (what more nodes wait on, "
                  f"and the critical path, first)")
    return ranks


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        err.print(f"[red]error:[/] unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        raise typer.Exit(2)


def _require_toolchain(backend: str) -> None:
    """Exit 2 with one clear line when the backend's toolchain is missing."""
    from .toolchains import missing_toolchain

    why = missing_toolchain(backend)
    if why:
        err.print(f"[red]error:[/] {escape(why)}")
        raise typer.Exit(2)


@app.command()
@with_llm_options
def prove(
    paths: list[Path] = typer.Argument(..., help="Coq/Lean files or project folders"),
    budget: float = typer.Option(60.0, help="search seconds per goal"),
    cpu: float = typer.Option(0.5, help="fraction of the machine for the whole process tree (0.1–1.0)"),
    write: bool = typer.Option(False, "--write", help="patch files in place with verified proofs only"),
    golf: float = typer.Option(5.0, "--golf", help="seconds to look for a shorter proof once one is verified (0: "
                               "keep the first)"),
    tickets: bool = typer.Option(True, "--tickets/--no-tickets", help="Coq: propose helper lemmas for a goal not "
                                 "proved (checked statements), search them, and the goal again with a proved one"),
    ticket_seconds: float = typer.Option(10.0, "--ticket-seconds", help="seconds for each helper, and for the goal "
                                         "again with it, past --budget (0: propose only)"),
    branch: bool = typer.Option(False, "--branch", help="commit the verified proofs on a new branch "
                                "(auto-prove/<branch>-<hash>) instead of touching your files or your branch"),
    commit_per: str = typer.Option("run", "--commit-per", help="--branch: one commit per run or per lemma"),
    push: Optional[str] = typer.Option(None, "--push", help="--branch: push the branch to this remote"),
    pr: bool = typer.Option(False, "--pr", help="--branch --push: open a pull request (gh, else $GITHUB_TOKEN)"),
    leanok: bool = typer.Option(False, "--leanok", help="--branch: the project blueprint's \\leanok (\\rocqok) "
                                "marks made true in the same commit"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the JSON report here"),
    backend: str = typer.Option("auto", help="auto | coq | lean"),
    profile: int = typer.Option(DEFAULT_PROFILE, envvar=PROFILE_VAR, help=PROFILE_HELP),
    harvest_seconds: float = typer.Option(HARVEST_SECONDS, help="profile 1: seconds this run may spend, before "
                                          "searching, replaying libraries not yet harvested on this machine (once "
                                          "per machine, then cached); the rest are harvested while the search runs "
                                          "and by later runs"),
    hammer: bool = typer.Option(False, "--hammer", help="Coq: also search with CoqHammer; such proofs add "
                                "`From Hammer Require Import Hammer Tactics.` at the top of the file"),
    imports: Optional[list[str]] = typer.Option(None, "--import", help="Coq: an import line the search may use "
                                                "and add at the top of a file when a proof needs it, e.g. "
                                                "'From Coq Require Import Psatz.' (repeatable; added to the "
                                                "default 'From Coq Require Import Lia.')"),
    no_default_imports: bool = typer.Option(False, "--no-default-imports", help="Coq: do not load Lia in search "
                                            "sessions (proofs then never add an import unless --import/--hammer)"),
    tactic_timeout: float = typer.Option(2.0, help="seconds per tactic"),
    max_provers: Optional[int] = typer.Option(None, help="cap on provers running at once"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="prove the goals as Dask tasks (extra 'cluster'): "
                                          "local:N for N worker processes here (sharing --cpu), or a scheduler "
                                          "address such as tcp://host:8786 (each worker at --cpu of its machine; "
                                          "the project at the same path on every worker)"),
    fresh: bool = typer.Option(False, "--fresh", help="ignore results recorded in the ledger"),
    strict: bool = typer.Option(False, "--strict", help="refuse proofs that use the project's own open "
                                "(Admitted/sorry) lemmas; by default they are accepted and labelled"),
    model: Optional[Path] = typer.Option(None, "--model", envvar="AUTOPROVE_MODEL", help="folder of a seq2seq "
                                         "tactic model converted with ctranslate2 (extra 'neural'): its tactics join "
                                         "the search"),
    verbose: bool = typer.Option(False, "-v", "--verbose"),
    llm_settings: dict[str, Any] | None = None,
) -> None:
    """Find every open goal in PATHS, search for proofs, verify them, report (and with --write, patch files)."""
    _setup_logging(verbose)
    _check_backend(backend)
    _check_profile(profile)
    _check_branch(write, branch, commit_per, push, pr)
    if leanok and not branch:
        err.print("[red]error:[/] --leanok needs --branch")
        raise typer.Exit(2)
    from .build import search_waves
    from .ledger import Ledger
    from .report import goal_table, progress_bar, prove_json, write_json
    from .scheduler import ProveOptions, Scheduler
    from .workspace import backend_for, collect_files, discover, project_root, write_verified

    if not 0.1 <= cpu <= 1.0:
        err.print("[red]error:[/] --cpu must be between 0.1 and 1.0")
        raise typer.Exit(2)
    try:
        files = collect_files(paths, backend)
    except AutoProveError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    for b in sorted({backend_for(f, backend) or backend for f in files}):
        _require_toolchain(b)
    if branch:  # refused now rather than after the search
        from .vcs import VcsError, preflight

        try:
            preflight(project_root(files), files, push)
        except VcsError as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(2)
    _guard()
    neural_model = _neural_model(model)
    t0 = time.monotonic()
    cpu0 = tree_cpu_seconds()
    with progress_bar(console) as progress:
        # Coq: the project files these need (transitively) are compiled first; what cannot be built is said once
        # and the files that need it wait
        build_task = progress.add_task("building dependencies", total=0, detail="")
        try:
            built = _build_dependencies(progress, build_task, [f for f in files if backend_for(f, backend) == "coq"],
                                        cpu)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130)
        for failure in built.failures:
            err.print(f"[red]error:[/] {escape(str(failure))}")
        searchable = [f for f in files if f not in built.blocked]
        task = progress.add_task("finding goals", total=len(searchable), detail="")
        goals, problems = discover(searchable, backend, needs=built.needs, on_file=lambda f, fg: progress.update(
            task, advance=1, detail=escape(f.name)))
        for p in problems:
            err.print(f"[red]error:[/] {escape(str(p))}")
        problems += built.failures  # type: ignore[arg-type]  # counted with the others, printed above
        root = project_root(files)
        try:
            ledger = Ledger(root) if goals else None
        except LedgerError as e:
            err.print(f"[yellow]warning:[/] {escape(str(e))}; continuing without a ledger")
            ledger = Ledger(root, in_memory=True)
        opts = ProveOptions(budget=budget, cpu=cpu, profile=profile, tactic_timeout=tactic_timeout,
                            hammer=hammer, imports=_imports(imports, no_default_imports), max_provers=max_provers,
                            resume=not fresh, strict=strict, neural_model=neural_model, golf_seconds=golf,
                            tickets=tickets, ticket_seconds=ticket_seconds,
                            **(llm_settings or {}))
        learning = None
        search_task = progress.add_task("searching", total=len(goals), detail="")
        done = {"proved": 0}

        def on_event(kind: str, out) -> None:  # type: ignore[no-untyped-def]
            if kind == "started":
                progress.update(search_task,
                                detail=escape(f"{out.goal.lemma} ({out.goal.file.name}:{out.goal.line})"))
            elif kind == "done":
                done["proved"] += out.status == "proved"
                progress.update(search_task, advance=1, detail=f"{done['proved']} proved")

        # with --write, a file is searched after the files it loads were written (and rebuilt), so that its proofs
        # stand on their new text; without, all at once
        with_goals = list(dict.fromkeys(g.file for g in goals))
        waves = search_waves(with_goals, built.needs) if write else [with_goals]
        ranks = _blueprint_ranks(root, goals, whole=any(p.is_dir() and p.resolve() == root for p in paths))
        outcomes, written = [], []
        pool = _start_cluster(cluster, cpu) if cluster and goals else None
        try:
            if profile >= 1 and goals:
                learning = _prepare_learning(progress, goals, root, built.needs, harvest_seconds)
            for wave in waves:
                wave_goals = [g for g in goals if g.file in set(wave)]
                wave_goals.sort(key=lambda g: ranks.get(g.lemma.rsplit(".", 1)[-1], 1.0))  # stable: file order else
                if any(r.written for r in written):
                    again = _build_dependencies(progress, build_task, wave, cpu)
                    for failure in again.failures:
                        err.print(f"[red]error:[/] {escape(str(failure))}")
                    problems += again.failures  # type: ignore[arg-type]
                    wave_goals = [g for g in wave_goals if g.file not in again.blocked]
                if not wave_goals:
                    wave_outcomes = []
                elif pool is not None:
                    wave_outcomes = _on_cluster(pool, wave_goals, opts, ledger, on_event)
                else:
                    wave_outcomes = Scheduler(opts, ledger, on_event=on_event, learning=learning).run(wave_goals)
                outcomes += wave_outcomes
                if write:
                    written += write_verified(wave_outcomes)
            place = {id(g): i for i, g in enumerate(goals)}
            outcomes.sort(key=lambda o: place.get(id(o.goal), len(place)))  # file order again
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130)
        finally:
            if learning is not None:
                learning.close()  # the background harvest of the libraries past --harvest-seconds, if one runs
            if pool is not None:
                pool.close()
    wall = time.monotonic() - t0
    cpu_frac = (tree_cpu_seconds() - cpu0) / max(wall, 1e-6) / (os.cpu_count() or 1)
    for r in written:
        note = f" ({r.message})" if r.message else ""
        console.print(escape(f"wrote {r.written} proof(s) to {r.file}{note}"))
    console.print(goal_table(outcomes, root=root))
    print_tickets(console, outcomes, root)
    doc = prove_json(outcomes, wall, cpu_frac, profile)
    s = doc["summary"]
    console.print(f"[bold]proved {s['proved']}/{s['total'] - s['skipped']}[/]"  # type: ignore[index,operator]
                  + (f" ({s['proved_on_open']} on open lemmas)" if s["proved_on_open"] else "")  # type: ignore[index]
                  + (f", {s['skipped']} not a proposition (skipped)" if s["skipped"] else "")  # type: ignore[index]
                  + f" in {wall:.1f} s, CPU {cpu_frac:.2f} of the machine, profile {profile}"
                  + (f", {len(problems)} file problem(s)" if problems else ""))
    if json_out:
        write_json(json_out, doc)
    if ledger is not None:
        ledger.close()
    if branch:
        _commit_branch(root, outcomes, commit_per == "lemma", push, pr, budget, profile, wall,
                       cpu_frac * wall * (os.cpu_count() or 1), leanok)


def _start_cluster(spec: str, cpu: float):  # type: ignore[no-untyped-def]
    """The cluster `prove --cluster` runs on, started (local:N) or connected to; a clear error and exit 2 if not."""
    from .cluster import Cluster, ClusterError

    try:
        pool = Cluster(spec, cpu=cpu).start()
    except ClusterError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    console.print(escape(f"cluster {spec}: {len(pool.workers)} worker(s)"))
    return pool


def _on_cluster(pool, goals, opts, ledger, on_event):  # type: ignore[no-untyped-def]
    from .cluster import ClusterError

    try:
        return pool.run(goals, opts, ledger, on_event=on_event)
    except ClusterError as e:  # the caller's `finally` closes the cluster
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)


@app.command()
def bank(
    backend: str = typer.Option("coq", help="coq | lean"),
    profile: int = typer.Option(DEFAULT_PROFILE, envvar=PROFILE_VAR, help=PROFILE_HELP),
    budget: float = typer.Option(60.0, help="search seconds per lemma"),
    cpu: float = typer.Option(0.5, help="fraction of the machine (0.1–1.0)"),
    difficulty: Optional[list[str]] = typer.Option(None, help="easy | medium | hard (repeatable)"),
    limit: Optional[int] = typer.Option(None, help="at most this many lemmas per difficulty"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="results file (default bank/results/…)"),
    bank_file: Optional[Path] = typer.Option(None, "--bank", help="bank source (default: bundled bank.toml)"),
    hammer: bool = typer.Option(False, "--hammer", help="Coq: also search with CoqHammer"),
    golf: float = typer.Option(5.0, "--golf", help="seconds to look for a shorter proof once one is verified"),
    tactic_timeout: float = typer.Option(2.0, help="seconds per tactic"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="as for prove: local:N or a Dask scheduler "
                                          "address (the bank's files are written here: local:N only, or workers "
                                          "that share this machine's /tmp)"),
    verbose: bool = typer.Option(False, "-v", "--verbose"),
) -> None:
    """Run the lemma bank and print the solve rate per difficulty and per strategy."""
    _setup_logging(verbose)
    if backend not in ("coq", "lean"):
        err.print(f"[red]error:[/] unknown backend {backend!r} (choose coq or lean)")
        raise typer.Exit(2)
    _check_profile(profile)
    _require_toolchain(backend)
    _guard()
    from .bank import BankRun, run_bank
    from .cluster import ClusterError

    try:
        run = BankRun(backend=backend, profile=profile, budget=budget, cpu=cpu, difficulties=tuple(difficulty or ()),
                      limit=limit, bank_file=bank_file, hammer=hammer, tactic_timeout=tactic_timeout, golf=golf,
                      cluster=cluster)
        run_bank(run, console=console, json_out=json_out)
    except (ValueError, ClusterError) as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)


@app.command()
def status(path: Path = typer.Argument(Path("."), help="project folder (where .auto-prove/ lives)")) -> None:
    """Summarise the ledger of a project."""
    from collections import Counter

    from rich.table import Table

    from .ledger import LEDGER_DIR, Ledger

    root = path.resolve()
    if not (root / LEDGER_DIR / "ledger.sqlite").exists():
        console.print(escape(f"no ledger under {root} (run `auto-prove prove` there first)"))
        return
    try:
        led = Ledger(root)
        recs = list(led.goals())
        n_attempts = led.attempt_count()
        spend = led.llm_spend()
    except LedgerError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(1)
    c = Counter("imported" if r.status == "proved" and not r.verified else r.status for r in recs)
    t = Table(title=escape(f"ledger {led.path}"))
    for col in ("file:line", "lemma", "status", "s", "tries"):
        t.add_column(col)
    for r in recs:
        f = r.file
        try:
            f = str(Path(r.file).relative_to(root))
        except ValueError:
            pass
        shown = "imported, not yet verified here" if r.status == "proved" and not r.verified else r.status
        t.add_row(escape(f"{f}:{r.line}"), escape(r.lemma), shown, f"{r.seconds:.1f}", str(r.attempts))
    console.print(t)
    console.print(f"goals {len(recs)}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                  + f"; attempts recorded {n_attempts}")
    for provider, (calls, tokens, dollars) in sorted(spend.items()):
        console.print(escape(f"language model {provider}: {calls} call(s), {tokens} tokens, ${dollars:.4f}"))
    led.close()


@app.command()
def lsp(verbose: bool = typer.Option(False, "-v", "--verbose", help="log to stderr at debug level")) -> None:
    """Run the language server on stdio (for editors: diagnostics, hovers and quick fixes on open goals)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="auto-prove %(levelname)s %(name)s: %(message)s")
    # an editor cancelling a request that was answered already is routine, not worth a warning in its log
    logging.getLogger("pygls.protocol.json_rpc").addFilter(
        lambda r: not r.getMessage().startswith("Cancel notification for unknown message id"))
    try:
        from .lsp import build_server
    except ImportError as e:  # pygls/lsprotocol are the `lsp` extra
        err.print(f"[red]error:[/] the language server needs the lsp extra: pip install 'auto-prove[lsp]' ({e})")
        raise typer.Exit(2)
    _guard()
    server = build_server()
    _graceful_termination(server.close_workspace)
    server.start_io()


@app.command()
@with_llm_options
def serve(
    root: Path = typer.Argument(Path("."), help="the project folder"),
    budget: float = typer.Option(60.0, help="search seconds per goal"),
    cpu: float = typer.Option(0.5, help="fraction of the machine for the whole process tree (0.1–1.0)"),
    profile: int = typer.Option(DEFAULT_PROFILE, envvar=PROFILE_VAR, help=PROFILE_HELP),
    dashboard: bool = typer.Option(False, "--dashboard", help="also serve the dashboard (its URL is printed)"),
    where: Optional[Path] = typer.Option(None, "--blueprint", help="the dashboard's blueprint (default: the "
                                         "project's blueprint/, or for Coq the graph Coq gives)"),
    port: int = typer.Option(0, "--port", help="the dashboard's port on 127.0.0.1 (0: a free one)"),
    verbose: bool = typer.Option(False, "-v", "--verbose"),
    llm_settings: dict[str, Any] | None = None,
) -> None:
    """Search the project's goals in the background and answer the HTTP endpoint (for the Lean package's
    `auto_prove` tactic and `#sorries`, without an editor's language client). Stops on Ctrl-C."""
    _serve(root, budget, cpu, profile, verbose, llm_settings, dashboard=dashboard, where=where, port=port)


def _serve(root: Path, budget: float, cpu: float, profile: int, verbose: bool, llm_settings: dict[str, Any] | None,
           *, dashboard: bool, where: Optional[Path], port: int) -> None:
    _setup_logging(verbose)
    from .endpoint import Endpoint
    from .live import LiveWorkspace
    from .scheduler import ProveOptions
    from .workspace import collect_files

    root = _service_root(root, cpu, profile)
    _guard()
    _graceful_termination()
    live = LiveWorkspace(ProveOptions(budget=budget, cpu=cpu, profile=profile, library_seconds=0.0,
                                      **(llm_settings or {})),
                         root).start()
    endpoint = board = None
    try:
        endpoint = Endpoint(root, live).start()
        if dashboard:
            from .dashboard.model import DashboardModel
            from .dashboard.server import Dashboard

            board = Dashboard(DashboardModel(root, live, blueprint=where.resolve() if where else None), port).start()
            board.model.start()
        live.add_workspace_files(collect_files([root]))
        console.print(f"auto-prove serving {escape(str(root))} at {endpoint.url} "
                      f"(token in {escape(str(endpoint.file))}); Ctrl-C stops")
        if board is not None:
            console.print(f"dashboard: {board.url}", soft_wrap=True)
        while True:
            time.sleep(3600)
    except AutoProveError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        if board is not None:
            board.close()
            board.model.close()
        if endpoint is not None:
            endpoint.close()
        live.close()


@app.command("dashboard")
@with_llm_options
def dashboard_cmd(
    root: Path = typer.Argument(Path("."), help="the project folder"),
    where: Optional[Path] = typer.Option(None, "--blueprint", help="the blueprint's folder or main .tex file "
                                         "(default: the project's blueprint/, or for Coq the graph Coq gives)"),
    port: int = typer.Option(0, "--port", help="port on 127.0.0.1 (0: a free one)"),
    export: Optional[Path] = typer.Option(None, "--export", help="write dashboard.md, coverage.svg and graph.svg "
                                          "into this folder and exit (for CI; no server, no search)"),
    budget: float = typer.Option(60.0, help="search seconds per goal"),
    cpu: float = typer.Option(0.5, help="fraction of the machine for the whole process tree (0.1–1.0)"),
    profile: int = typer.Option(DEFAULT_PROFILE, envvar=PROFILE_VAR, help=PROFILE_HELP),
    verbose: bool = typer.Option(False, "-v", "--verbose"),
    llm_settings: dict[str, Any] | None = None,
) -> None:
    """The live dashboard: search the project's goals in the background (as `serve`) and show the blueprint graph
    coloured by what is proved and found, coverage over time, the queue, the CPU, strategy families and recent
    proofs at a 127.0.0.1 URL with a token; `/metrics` for Prometheus. With --export, files for CI instead."""
    if export is None:
        return _serve(root, budget, cpu, profile, verbose, llm_settings, dashboard=True, where=where, port=port)
    _setup_logging(verbose)
    from .dashboard.export import export_dashboard
    from .dashboard.model import DashboardModel

    root = _service_root(root, cpu, profile)
    _guard()
    model = DashboardModel(root, None, blueprint=where.resolve() if where else None)
    try:
        with console.status("reading and checking the blueprint"):
            written = export_dashboard(model, export)
    finally:
        model.close()
    if model.graph_state == "error":
        err.print(f"[red]error:[/] {escape(model.graph_error)}")
    for f in written:
        console.print(f"wrote {escape(str(f))}")
    if model.graph_state == "error":
        raise typer.Exit(2)


@app.command()
@with_llm_options
def mcp(
    root: Path = typer.Argument(Path("."), help="the project folder"),
    budget: float = typer.Option(60.0, help="search seconds per goal"),
    cpu: float = typer.Option(0.5, help="fraction of the machine for the whole process tree (0.1–1.0)"),
    profile: int = typer.Option(DEFAULT_PROFILE, envvar=PROFILE_VAR, help=PROFILE_HELP),
    strict: bool = typer.Option(False, "--strict", help="refuse proofs that use the project's own open lemmas"),
    tactic_timeout: float = typer.Option(10.0, help="seconds per sentence an agent's try_tactics may run"),
    http: bool = typer.Option(False, "--http", help="serve over streamable HTTP on 127.0.0.1 instead of stdio: one "
                              "server per project, shared by its clients (URL and token in .auto-prove/mcp.json)"),
    port: int = typer.Option(0, help="--http: the port (default: one the system picks)"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="log to stderr at debug level"),
    llm_settings: dict[str, Any] | None = None,
) -> None:
    """Serve the project's goals to a coding agent over the Model Context Protocol on stdin/stdout (list, read,
    try tactics, verify, apply, search); the goals are searched in the background meanwhile."""
    _setup_logging(verbose)
    root = _service_root(root, cpu, profile)
    try:
        import mcp as _sdk  # noqa: F401
    except ImportError:
        err.print("[red]error:[/] the MCP server needs the `mcp` extra: pip install 'auto-prove[mcp]'")
        raise typer.Exit(2)
    from .mcp_server import MCP_FILE, running_server, serve_http, serve_stdio
    from .scheduler import ProveOptions

    options = ProveOptions(budget=budget, cpu=cpu, profile=profile, strict=strict, library_seconds=0.0,
                           **(llm_settings or {}))
    if http:
        other = running_server(root)
        if other is not None:
            console.print(f"an auto-prove MCP server already serves {escape(str(root))} at {other['url']} "
                          f"(pid {other['pid']}; token in {escape(str(root / MCP_FILE))}); connect to it")
            return
    _guard()
    _graceful_termination()
    if not http:
        serve_stdio(root, options, tactic_timeout=tactic_timeout)
        return
    try:
        serve_http(root, options, tactic_timeout=tactic_timeout, port=port, on_ready=lambda url, f: console.print(
            f"auto-prove MCP server for {escape(str(root))} at {url} (token in {escape(str(f))}); Ctrl-C stops"))
    except OSError as e:
        err.print(f"[red]error:[/] cannot listen on 127.0.0.1:{port}: {escape(e.strerror or str(e))}")
        raise typer.Exit(2)


@app.command()
def blueprint(
    project: Path = typer.Argument(Path("."), help="the project folder"),
    where: Optional[Path] = typer.Option(None, "--blueprint", help="the blueprint's folder or main .tex file "
                                         "(default: the project's blueprint/src/web.tex)"),
    target: Optional[str] = typer.Option(None, "--target", help="the node whose critical path is shown (default: "
                                         "the sink with the longest one)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the whole result as JSON"),
    update: bool = typer.Option(False, "--update", help="print the edits that make the blueprint's \\leanok "
                                "(\\rocqok) marks say what the prover says, as a diff"),
    write: bool = typer.Option(False, "--write", help="with --update: apply them to the blueprint's files"),
    verbose: bool = typer.Option(False, "-v", "--verbose"),
) -> None:
    """Check a blueprint (leanblueprint LaTeX; `\\rocq{}`/`\\rocqok` for Coq) against the prover: coverage, false
    and missing greens, what can be proved next, the critical path. Changes nothing unless --update --write."""
    _setup_logging(verbose)
    from .blueprint.check import check_blueprint, project_backend

    project = project.resolve()
    _require_toolchain(project_backend(project))
    _guard()
    try:
        with console.status("reading the blueprint") as status:
            result = check_blueprint(project, where, target, progress=lambda what: status.update(escape(what)))
    except AutoProveError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    from .report import blueprint_report, write_json

    blueprint_report(console, result)
    if json_out is not None:
        write_json(json_out, result.to_json())
    if update or write:
        from .blueprint.update import plan_updates

        where = where if where is not None else project
        edits = plan_updates(result, where)
        for edit in edits:
            console.print(escape(edit.diff(project)), end="", highlight=False, soft_wrap=True)
        if not edits:
            console.print("the blueprint's marks already say what the prover says")
        elif write:
            for edit in edits:
                edit.file.write_text(edit.after, encoding="utf-8")
            console.print(f"wrote {len(edits)} file(s): {sum(len(x.added) for x in edits)} node(s) marked, "
                          f"{sum(len(x.removed) for x in edits)} unmarked")
        else:
            console.print("(--write applies these edits)")


app.command("tickets")(tickets_cmd)
app.add_typer(sync_app, name="sync")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    """Entry point of the `auto-prove` script."""
    try:
        app()
    except ProverUnavailable as e:
        err.print(f"[red]error:[/] {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
