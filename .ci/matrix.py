"""`make matrix`: the oldest and the newest supported stack, each in a fresh venv, each running a
fast subset of the suite; writes docs/matrix.md.

Run by hand (it installs two venvs under build/matrix/ and takes minutes), not by CI. Only what
this machine installs without a CUDA download is tried: torch is the CPU wheel 2.13.0 at both
ends (every other torch on the index is a CUDA build; 2.14.1 lies on disk but still downloads
cuda-bindings and nvjitlink). The boosting extras are left out (plain xgboost downloads NCCL);
their tests skip.

    python .ci/matrix.py [--ends oldest newest] [--python python3.11]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "matrix"
SRC = BUILD / "src"  # a snapshot of HEAD (git archive): edits made meanwhile do not leak in
# the declared floors of pyproject.toml, and "whatever is newest" (no pin)
ENDS = {
    "oldest": ["torch==2.13.0", "shap==0.48.0", "scikit-learn==1.4.0", "numpy==1.26.0",
               "pandas==2.1.0", "scipy==1.11.1"],
    "newest": ["torch==2.13.0", "shap", "scikit-learn", "numpy", "pandas", "scipy"],
    # Python 3.13 has no torch on this machine without a CUDA download: the newest of the rest,
    # the package installed without its torch/captum requirements, and the tests that need
    # neither
    "py3.13-no-torch": ["shap", "scikit-learn", "numpy", "pandas", "scipy", "pymoo>=0.6.1",
                        "matplotlib>=3.8", "tqdm>=4.66", "joblib>=1.3", "threadpoolctl>=3.1"],
}
TORCH_FREE = ["tests/test_datasets.py", "tests/test_config.py", "tests/test_suspicious.py",
              "tests/test_cohorts.py", "tests/test_integrity.py", "tests/test_packaging.py"]
EXTRAS = ["pytest>=8", "cleanlab>=2.8"]
SUBSET = ["tests/test_public_api.py", "tests/test_datasets.py", "tests/test_contributions.py",
          "tests/test_additivity.py", "tests/test_bridge.py", "tests/test_ale.py",
          "tests/test_neighborhood.py", "tests/test_suspicious.py", "tests/test_flip_points.py",
          "tests/test_influence.py"]
# what a failure at one end is known to mean (read, not generated)
NOTES = {
    "tests/test_influence.py::test_bad_input": (
        "the test builds its L1 model as `LogisticRegression(l1_ratio=1.0, solver='saga')`, "
        "which before scikit-learn 1.8 is an L2 model (`l1_ratio` is ignored unless "
        "`penalty='elasticnet'`), so `InfluenceFunction` rightly accepts it; the test, not the "
        "library, depends on the version"),
}
SHOWN = ["torch", "shap", "scikit-learn", "numpy", "pandas", "scipy", "captum", "matplotlib",
         "pymoo", "PyALE", "dask"]


def run(cmd: list[str], log, timeout: float, env: dict | None = None) -> tuple[int, str]:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    try:
        res = subprocess.run(cmd, cwd=SRC, capture_output=True, text=True, timeout=timeout,
                             env=env)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        log.write(out + f"\nTIMEOUT after {timeout:.0f} s\n")
        return 124, out
    log.write(res.stdout + res.stderr)
    log.flush()
    return res.returncode, res.stdout + res.stderr


def one_end(end: str, python: str, timeout: float, head: str = "?") -> dict:
    import os

    no_torch = end.endswith("no-torch")
    venv = BUILD / end
    BUILD.mkdir(parents=True, exist_ok=True)
    out: dict = {"end": end, "requested": ENDS[end], "commit": head,
                 "date": time.strftime("%Y-%m-%d")}
    with open(BUILD / f"{end}.log", "w") as log:
        t0 = time.perf_counter()
        import shutil

        shutil.rmtree(venv, ignore_errors=True)  # a fresh venv every run
        run([python, "-m", "venv", str(venv)], log, 300)
        py = str(venv / "bin" / "python")
        rc, text = run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], log, 600)
        if no_torch:
            rc, text = run([py, "-m", "pip", "install", "-q", "--upgrade", *ENDS[end], *EXTRAS],
                           log, 1800)
            if rc == 0:
                rc, text = run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", "."], log,
                               600)
        else:
            # torch first, alone: with it in place no resolution below reaches for a CUDA build
            rc, text = run([py, "-m", "pip", "install", "-q", ENDS[end][0]], log, 900)
            if rc == 0:
                rc, text = run([py, "-m", "pip", "install", "-q", "--upgrade",
                                "--upgrade-strategy", "only-if-needed", "-e", ".[ale,dask]",
                                *ENDS[end][1:], *EXTRAS], log, 1800)
        out["install_s"] = round(time.perf_counter() - t0)
        if rc != 0:
            out["result"] = f"install failed (rc {rc}): " + text.strip().splitlines()[-1][:300]
            (BUILD / f"{end}.json").write_text(json.dumps(out))
            return out
        probe = ("import json, importlib.metadata as m, platform; names = " + repr(SHOWN)
                 + "; print(json.dumps({'python': platform.python_version(), "
                 "**{n: m.version(n) for n in names if list(m.distributions(name=n))}}))")
        rc, text = run([py, "-c", probe], log, 120)
        out["versions"] = json.loads(text.strip().splitlines()[-1]) if rc == 0 else {}
        env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONPATH="")
        t1 = time.perf_counter()
        rc, text = run(["nice", py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
                        "not slow", "--durations=3", *(TORCH_FREE if no_torch else SUBSET)],
                       log, timeout, env=env)
        out["test_s"] = round(time.perf_counter() - t1)
        tail = [ln for ln in text.strip().splitlines() if re.search(r"\d+ (passed|failed)", ln)]
        out["result"] = tail[-1].strip("= ") if tail else f"rc {rc}, no summary line"
        out["failures"] = [ln for ln in text.splitlines() if ln.startswith("FAILED ")][:20]
        out["rc"] = rc
    (BUILD / f"{end}.json").write_text(json.dumps(out))
    return out


def write_md() -> None:
    results = [json.loads((BUILD / f"{e}.json").read_text()) for e in ENDS
               if (BUILD / f"{e}.json").exists()]
    lines = ["# Supported-versions matrix", "",
             "Written by `make matrix` (`.ci/matrix.py`): a fresh venv per end, the package",
             "installed from this checkout with the `ale` and `dask` extras, then a fast subset",
             "of the suite (`-m 'not slow'`, " + ", ".join(f"`{Path(s).name}`" for s in SUBSET)
             + ").", "",
             "Only what this machine installs without downloading CUDA is tried: **torch is",
             "2.13.0 (CPU wheel) at both ends**; every other torch on the index is a CUDA build",
             "(2.14.1 lies on disk but still downloads `cuda-bindings` and `nvidia-nvjitlink`),",
             "so the declared floor `torch>=2.3` (captum 0.9's own floor) is not exercised here.",
             "The boosting extras are left out of the matrix venvs (plain `xgboost` downloads",
             "NCCL); their tests run in `make test`. Python 3.12 and 3.13 have no torch here",
             "without a CUDA download: the `py3.13-no-torch` row installs the newest of the rest",
             "on Python 3.13, the package without its torch/captum requirements, and runs the",
             "tests that need neither (" + ", ".join(f"`{Path(s).name}`" for s in TORCH_FREE)
             + ").", "",
             "\"newest\" is what pip picks for that Python: shap 0.52 and later need Python",
             "3.12+, so the newest shap on 3.11 is 0.51.", "",
             f"Each row: the commit and day it ran, on {platform.machine()} with 2 shared cores.",
             ""]
    head = ["end", "python", "torch", "shap", "scikit-learn", "numpy", "pandas", "scipy",
            "captum", "install (s)", "tests (s)", "result", "ran at"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        v = r.get("versions", {})
        row = [r["end"], v.get("python", "?"), *(v.get(k, "—") for k in head[2:9]),
               str(r.get("install_s", "")), str(r.get("test_s", "")), r["result"],
               f"{r.get('commit', '?')}, {r.get('date', '?')}"]
        lines.append("| " + " | ".join(row) + " |")
    for r in results:
        if r.get("failures"):
            lines += ["", f"Failures at the {r['end']} end:", ""]
            for f in r["failures"]:
                test = f[7:].split(" - ")[0]
                known = f" — known: {NOTES[test]}." if test in NOTES else ""
                lines.append(f"- `{f[7:]}`{known}")
        if r.get("versions"):
            rest = ", ".join(f"{k} {v}" for k, v in r["versions"].items()
                             if k not in head[:9])
            lines += ["", f"Other versions at the {r['end']} end: {rest}."]
    (ROOT / "docs" / "matrix.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ends", nargs="+", default=list(ENDS), choices=list(ENDS))
    ap.add_argument("--python", default="python3.11")
    ap.add_argument("--python313", default="python3.13", help="the interpreter of py3.13-*")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds per end's tests")
    args = ap.parse_args()
    import shutil

    global SRC
    SRC = BUILD / ("src-" + "-".join(args.ends))  # runs of other ends may go on meanwhile
    shutil.rmtree(SRC, ignore_errors=True)
    SRC.mkdir(parents=True)
    subprocess.run(f"git archive HEAD | tar -x -C {SRC}", shell=True, cwd=ROOT, check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                          capture_output=True).stdout.strip()
    results = []
    for end in args.ends:
        r = one_end(end, args.python313 if end.startswith("py3.13") else args.python,
                    args.timeout, head)
        print(json.dumps(r), flush=True)
        results.append(r)
    write_md()
    return 0 if all(r.get("rc") == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
