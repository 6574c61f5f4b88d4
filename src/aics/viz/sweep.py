"""Design-space sweeps (exercise 6.8): the cartesian product of arch settings, each point compiled
and timed, one CSV row per point.

Why it is shaped this way:

* Every point's arch is derived with ``arch_io.with_overrides`` and validated *before* any work,
  so an unknown field, a wrong type or an impossible combination is one error line, not a crash
  half-way through an hour of simulation.
* Each finished point is appended to the CSV and flushed at once; a re-run reads the file and
  skips every point already there (keyed by model, base arch and the swept values), so a killed
  sweep resumes where it stopped. A torn last line (killed mid-write) is dropped and redone. At the
  end the file is rewritten in plan order, so the same sweep always gives the same file.
* Models are quantized once, in this process, and shipped to the workers (a process pool by
  default, Ray tasks with ``ray_address``); points are timing-only runs, which do not depend on data.
* A point whose network cannot be compiled for its arch (a ``CompileError``) gets its message in
  the ``error`` column instead of stopping the sweep: that is a result of the exploration too.
"""

from __future__ import annotations

import csv
import itertools
import os
import socket
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from aics.dlp.arch import Arch
from aics.errors import AicsError, ArchError, SweepError
from aics.ir.graph import Graph

METRICS = ("cycles", "seconds", "utilization", "energy_pj", "dram_bytes", "macs", "roofline_bound_cycles")
Progress = Callable[[int, int, "Point | None"], None]  # (points done, points in all, point just done)


@dataclass(frozen=True)
class Axis:
    """One swept field and its values, in the order given."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    model: str
    settings: tuple[tuple[str, Any], ...]  # (field, value) per axis, in axis order

    def key(self, arch: str) -> tuple[str, ...]:
        return (self.model, arch, *(fmt(v) for _, v in self.settings))


@dataclass(frozen=True)
class SweepResult:
    path: Path
    columns: tuple[str, ...]
    rows: list[dict[str, str]]  # the whole CSV, plan order first
    computed: int  # points run by this call
    skipped: int  # points found already done in the CSV


def fmt(value: Any) -> str:
    """The CSV form of a value; the same value always gives the same text (resume keys on it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_axis(text: str) -> Axis:
    """``"matrix.rows=8,16,32"`` -> ``Axis("matrix.rows", (8, 16, 32))``; values are TOML scalars."""
    from aics.dlp.arch_io import parse_override

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"--set '{text}': expected FIELD=V1,V2,..., e.g. matrix.rows=8,16,32")
    parts = [p.strip() for p in raw.split(",")]
    if not any(parts) or not all(parts):
        raise SweepError(f"--set '{text}': empty value in the list")
    values = tuple(parse_override(f"{key}={p}")[1] for p in parts)
    if len(set(map(fmt, values))) != len(values):
        raise SweepError(f"--set '{text}': a value is listed twice")
    return Axis(key, values)


def plan(base: Arch, models: Sequence[str], axes: Sequence[Axis]) -> list[Point]:
    """Every (model, settings) point, models outermost; each point's arch is built and validated now."""
    from aics.dlp.arch_io import with_overrides

    if not models:
        raise SweepError("sweep: no model given")
    seen: set[str] = set()
    for axis in axes:
        if axis.field in seen:
            raise SweepError(f"--set {axis.field} is given twice; list all its values in one --set")
        seen.add(axis.field)
    combos = list(itertools.product(*(axis.values for axis in axes)))
    for combo in combos:
        settings = dict(zip((a.field for a in axes), combo))
        try:
            with_overrides(base, settings)
        except ArchError as err:
            text = str(err).removeprefix("overrides: ")
            where = ", ".join(f"{k}={fmt(v)}" for k, v in settings.items())
            raise ArchError(f"--set: {text}" + (f" (at {where})" if len(combos) > 1 else "")) from None
    return [Point(m, tuple(zip((a.field for a in axes), combo))) for m in models for combo in combos]


def columns(axes: Sequence[Axis]) -> tuple[str, ...]:
    return ("model", "arch", *(a.field for a in axes), *METRICS, "error")


def evaluate(qgraph: Graph, base: Arch, point: Point) -> dict[str, str]:
    """Compile and time one point: its CSV row (metrics empty and ``error`` set if it cannot compile)."""
    # compile + timing + summary: ``workflow.simulate(functional=False)`` without its import of
    # torch, which would cost every spawned worker seconds.
    from aics.compiler.compile import compile_graph
    from aics.compiler.report import summary
    from aics.dlp.arch_io import with_overrides
    from aics.dlp.sim import timing

    row = {"model": point.model, "arch": base.name, **{f: fmt(v) for f, v in point.settings}}
    try:
        arch = with_overrides(base, dict(point.settings))
        compiled = compile_graph(qgraph, arch)
        report = summary(compiled, timing.simulate(compiled.program, arch), arch)
    except AicsError as err:
        return {**row, **dict.fromkeys(METRICS, ""), "error": str(err)}
    return {**row, **{m: fmt(report[m]) for m in METRICS}, "error": ""}


def run_sweep(models: Sequence[str], base: Arch, axes: Sequence[Axis], out: str | os.PathLike[str],
              jobs: int = 1, ray_address: str | None = None, progress: Progress | None = None,
              load: Callable[[str], Graph] | None = None) -> SweepResult:
    """Run every point of the sweep not yet in ``out`` and return the whole table.

    ``jobs`` > 1 runs points in that many processes; ``ray_address`` runs them as Ray tasks on
    that cluster instead. ``load`` turns a model name into a quantized graph (default: the
    ``aics simulate`` PTQ path with seeded random calibration).
    """
    if jobs < 1:
        raise SweepError(f"--jobs must be at least 1, got {jobs}")
    points = plan(base, models, axes)
    cols = columns(axes)
    path = Path(out)
    done = _read_done(path, cols)
    todo = [p for p in points if p.key(base.name) not in done]
    total = len(points)
    if progress:
        progress(total - len(todo), total, None)
    computed = 0
    if todo:
        if ray_address is not None:
            _check_ray(ray_address)
        if load is None:
            from aics.compiler.workflow import quantized_model as load
        graphs = {m: load(m) for m in dict.fromkeys(p.model for p in todo)}
        _rewrite(path, cols, list(done.values()))  # drops a torn last line before appending
        with open(path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols)

            def emit(point: Point, row: dict[str, str]) -> None:
                nonlocal computed
                writer.writerow(row)
                fh.flush()
                done[point.key(base.name)] = row
                computed += 1
                if progress:
                    progress(total - len(todo) + computed, total, point)

            if ray_address is not None:
                _run_ray(ray_address, graphs, base, todo, emit)
            elif jobs == 1 or len(todo) == 1:
                for point in todo:
                    emit(point, evaluate(graphs[point.model], base, point))
            else:
                _run_pool(min(jobs, len(todo)), graphs, base, todo, emit)
    order = {p.key(base.name): i for i, p in enumerate(points)}
    rows = sorted(done.values(), key=lambda r: order.get(_row_key(r, cols), len(order)))
    if computed or not path.exists():
        _rewrite(path, cols, rows)
    return SweepResult(path, cols, rows, computed, total - len(todo))


# --- the CSV ---------------------------------------------------------------------------------


def _row_key(row: dict[str, str], cols: Sequence[str]) -> tuple[str, ...]:
    return tuple(row[c] for c in cols[: cols.index("cycles")])


def _read_done(path: Path, cols: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, str]]:
    """Finished rows of an earlier run, keyed as ``Point.key``; a file with other columns is refused."""
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return {}
            if tuple(header) != cols:
                raise SweepError(f"{path}: has columns {','.join(header)}; this sweep writes "
                                 f"{','.join(cols)} (use another -o or delete the file)")
            rows = [dict(zip(cols, r)) for r in reader if len(r) == len(cols)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SweepError(f"{path}: cannot read the earlier results: {err}") from None
    return {_row_key(r, cols): r for r in rows if r["cycles"] or r["error"]}


def _rewrite(path: Path, cols: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(cols))
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except OSError as err:
        raise SweepError(f"cannot write '{path}': {err.strerror or err}") from None


# --- local processes -------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(graphs: dict[str, Graph], base: Arch) -> None:
    _WORKER.update(graphs=graphs, base=base)


def _worker_eval(point: Point) -> dict[str, str]:
    return evaluate(_WORKER["graphs"][point.model], _WORKER["base"], point)


def _run_pool(jobs: int, graphs: dict[str, Graph], base: Arch, todo: list[Point],
              emit: Callable[[Point, dict[str, str]], None]) -> None:
    import multiprocessing

    # spawn, not fork: the parent has torch (and its thread pools) loaded from quantizing.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(graphs, base)) as pool:
        futures = {pool.submit(_worker_eval, p): p for p in todo}
        try:
            for fut in as_completed(futures):
                emit(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


# --- Ray -------------------------------------------------------------------------------------


def _ray_task(qgraph: Graph, base: Arch, point: Point) -> dict[str, str]:
    return evaluate(qgraph, base, point)


def _check_ray(address: str) -> None:
    """Fail in seconds, with one line, where ``ray.init`` would retry for minutes: no ray package,
    or nothing listening at HOST:PORT (``auto`` and ``local`` are left to Ray)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SweepError("--ray: the ray package is not installed (pip install 'aics[ray]')") from None
    if address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SweepError(f"--ray {address}: expected HOST:PORT (or ray://HOST:PORT, auto, local)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            pass
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise SweepError(f"--ray {address}: no Ray cluster answers there ({why})") from None


def _run_ray(address: str, graphs: dict[str, Graph], base: Arch, todo: list[Point],
             emit: Callable[[Point, dict[str, str]], None]) -> None:
    import ray

    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError... by version
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SweepError(f"--ray {address}: cannot connect: {first}") from None
    try:
        task = ray.remote(num_cpus=1)(_ray_task)
        base_ref = ray.put(base)
        refs = {m: ray.put(g) for m, g in graphs.items()}
        pending = {task.remote(refs[p.model], base_ref, p): p for p in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                point = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as err:
                    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    raise SweepError(f"--ray {address}: point {point.model} {point.settings} failed: {first}") \
                        from None
                emit(point, row)
    finally:
        ray.shutdown()


# --- the plot --------------------------------------------------------------------------------


def sweep_figure(rows: Sequence[dict[str, str]], axes: Sequence[Axis]) -> Any:
    """Utilization and latency against the first swept field, one line per model and per
    combination of the other fields (lines carry ``gid="sweep:LABEL"``)."""
    from matplotlib.figure import Figure

    if not axes:
        raise SweepError("--plot needs at least one --set to put on the x axis")
    x_field, others = axes[0].field, [a.field for a in axes[1:]]
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    util_ax, lat_ax = fig.subplots(1, 2)
    series: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row.get("cycles"):
            label = " ".join([row["model"], *(f"{f}={row[f]}" for f in others)])
            series.setdefault(label, []).append(row)
    xs = [fmt(v) for v in axes[0].values]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axes[0].values)
    for label, items in series.items():
        items = sorted(items, key=lambda r: xs.index(r[x_field]) if r[x_field] in xs else len(xs))
        x = [float(r[x_field]) if numeric else xs.index(r[x_field]) for r in items]
        util_ax.plot(x, [100 * float(r["utilization"]) for r in items], marker="o", label=label,
                     gid=f"sweep:{label}")
        lat_ax.plot(x, [1e6 * float(r["seconds"]) for r in items], marker="o", label=label, gid=f"sweep:{label}")
    for ax, ylabel in ((util_ax, "matrix-unit utilization (%)"), (lat_ax, "latency (us)")):
        ax.set_xlabel(x_field)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if numeric and len(xs) > 1 and min(axes[0].values) > 0 and max(axes[0].values) / min(axes[0].values) >= 8:
            ax.set_xscale("log", base=2)
        if not numeric:
            ax.set_xticks(range(len(xs)), xs)
    latencies = [float(r["seconds"]) for items in series.values() for r in items]
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) >= 10:
        lat_ax.set_yscale("log")  # several models or decades of array sizes
    util_ax.legend(fontsize=7)
    fig.suptitle(f"Sweep over {', '.join(a.field for a in axes)}")
    return fig
