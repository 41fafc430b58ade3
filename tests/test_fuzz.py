"""Damaged and hostile files (issue 28 item 7): every model loader, ``load_table`` and the
CLI over seeded, generated truncated / bit-flipped / empty / renamed / wrong-typed files.

Each file must either load or give one ``ValueError`` naming the file; nothing may crash
the process (the files are opened in a child process, so a native abort fails the test
instead of ending it) and nothing may be written outside the test's directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")
pytest.importorskip("catboost")
pytest.importorskip("skops")
pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
N_PER_FORMAT = 150  # generated files per format and seed
SPEC = {"layers": [3, 4, 2], "activation": "relu"}


def _bases(folder: Path) -> dict[str, Path]:
    """One valid file per format, small (a few trees, three features)."""
    import catboost
    import lightgbm as lgb
    import torch
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingClassifier

    from shap_debug.io import build_mlp, save_model

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (X["a"] + 0.5 * rng.normal(size=120) > 0).astype(int)
    out = {}
    xm = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
    out["json"] = save_model(xm, folder / "base.json")
    out["ubj"] = save_model(xm, folder / "base.ubj")
    out["txt"] = save_model(lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1)
                            .fit(X, y), folder / "base.txt")
    out["cbm"] = save_model(catboost.CatBoostClassifier(iterations=3, depth=2, verbose=0,
                                                        allow_writing_files=False).fit(X, y),
                            folder / "base.cbm")
    out["skops"] = save_model(GradientBoostingClassifier(n_estimators=3, max_depth=2)
                              .fit(X, y), folder / "base.skops")
    torch.save(build_mlp(SPEC).state_dict(), folder / "base.pt")
    out["pt"] = folder / "base.pt"
    frame = X.assign(y=y)
    frame.to_csv(folder / "base.csv", index=False)
    frame.to_parquet(folder / "base.parquet")
    out["csv"], out["parquet"] = folder / "base.csv", folder / "base.parquet"
    return out


def _mutations(data: bytes, others: list[bytes], rng: np.random.Generator, n: int):
    """``n`` damaged versions of ``data``: (kind, bytes)."""
    kinds = ["truncate", "flip", "flip", "flip", "renamed", "garbage", "empty", "splice"]
    for _ in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "truncate":
            yield kind, data[:int(rng.integers(0, len(data)))]
        elif kind == "flip":
            buf = bytearray(data)
            for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 9))):
                buf[pos] ^= 1 << int(rng.integers(8))
            yield kind, bytes(buf)
        elif kind == "renamed":  # another format's bytes under this suffix
            yield kind, others[int(rng.integers(len(others)))]
        elif kind == "garbage":
            if rng.random() < 0.5:
                yield kind, rng.bytes(int(rng.integers(1, 4096)))
            else:
                yield kind, json.dumps({"learner": [1, 2], "tree": "x" * 10}).encode()
        elif kind == "empty":
            yield kind, b""
        else:  # a chunk of the file repeated in the middle
            a, b = sorted(rng.integers(0, len(data), size=2))
            yield kind, data[:b] + data[a:b] + data[b:]


CHILD = textwrap.dedent("""
    import json, sys, warnings
    from pathlib import Path
    warnings.simplefilter("ignore")
    from shap_debug.io import load_model, load_table
    from shap_debug.cli import main

    folder, spec = Path(sys.argv[1]), json.loads(sys.argv[2])
    cases = json.loads((folder / "cases.json").read_text())
    results = []
    for name, suffix in cases:
        path = folder / name
        print(name, file=sys.stderr, flush=True)  # the last name says which file crashed
        try:
            if suffix in (".csv", ".parquet"):
                load_table(path)
            else:
                load_model(path, torch_architecture=spec if suffix == ".pt" else None)
            results.append([name, "ok", ""])
        except ValueError as exc:
            ok = str(path) in str(exc) or repr(str(path)) in str(exc)
            results.append([name, "ValueError" if ok else "unnamed", str(exc)[:200]])
        except Exception as exc:
            results.append([name, "other", f"{type(exc).__name__}: {exc}"[:300]])
    (folder / "results.json").write_text(json.dumps(results))
    # the CLI on damaged inputs it must refuse: one line on stderr, exit code 2
    cli = []
    train = folder / "base.csv"
    for name, suffix in json.loads((folder / "cli.json").read_text()):
        path = folder / name
        if suffix in (".csv", ".parquet"):
            argv = ["--model", str(folder / "base.json"), "--train", str(path)]
        else:
            argv = ["--model", str(path), "--train", str(train)]
            if suffix == ".pt":
                argv += ["--torch-architecture", json.dumps(spec)]
        import io, contextlib
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["report", *argv, "--target", "y", "--out", str(folder / "r.html"),
                       "--quiet"])
        cli.append([name, rc, err.getvalue()])
    (folder / "cli_results.json").write_text(json.dumps(cli))
""")


@pytest.mark.parametrize("seed", [0, 1])
def test_damaged_files_give_one_clear_error_and_never_crash(tmp_path, seed):
    base_dir = tmp_path / "bases"
    base_dir.mkdir()
    bases = _bases(base_dir)
    (base_dir / "arch.json").write_text(json.dumps(SPEC))
    fuzz = tmp_path / "fuzz"
    fuzz.mkdir()
    for f in list(bases.values()):
        (fuzz / f.name).write_bytes(f.read_bytes())
    rng = np.random.default_rng(seed)
    blobs = {k: p.read_bytes() for k, p in bases.items()}
    cases = []
    for fmt, data in blobs.items():
        others = [b for k, b in blobs.items() if k != fmt]
        for j, (kind, blob) in enumerate(_mutations(data, others, rng, N_PER_FORMAT)):
            name = f"{fmt}-{j:03d}-{kind}.{fmt}"
            (fuzz / name).write_bytes(blob)
            cases.append([name, f".{fmt}"])
    (fuzz / "cases.json").write_text(json.dumps(cases))
    # the CLI: a sample of files every format's loader must refuse (empty, garbage)
    cli_cases = [c for c in cases if "-empty" in c[0] or "-garbage" in c[0]][::4][:24]
    (fuzz / "cli.json").write_text(json.dumps(cli_cases))
    before = set(os.listdir(ROOT))
    work = tmp_path / "cwd"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "TMPDIR": str(tmp_path), "HOME": str(tmp_path), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(fuzz), json.dumps(SPEC)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    last = proc.stderr.strip().splitlines()[-3:]
    assert proc.returncode == 0, f"the child crashed ({proc.returncode}) after: {last}"
    results = json.loads((fuzz / "results.json").read_text())
    assert len(results) == len(cases) >= 8 * N_PER_FORMAT
    bad = [r for r in results if r[1] not in ("ok", "ValueError")]
    assert not bad, bad[:10]
    by_kind: dict[str, list[str]] = {}
    for name, outcome, _ in results:
        by_kind.setdefault(name.split("-")[2].split(".")[0], []).append(outcome)
    # damage the loaders must always see
    # (a cut CSV or LightGBM file can still be whole, another format's text can parse as CSV)
    for kind in ("empty", "truncate", "renamed"):
        refused = [r for r in results if f"-{kind}." in r[0] and r[1] == "ok"
                   and not r[0].startswith("csv") and not (kind == "truncate"
                                                           and r[0].startswith("txt"))]
        assert not refused, refused[:5]
    assert by_kind["flip"].count("ValueError") > len(by_kind["flip"]) // 4
    cli = json.loads((fuzz / "cli_results.json").read_text())
    assert cli and all(rc == 2 for _, rc, _ in cli), [c for c in cli if c[1] != 2][:3]
    assert all(len(err.strip().splitlines()) == 1 and "Traceback" not in err
               for _, _, err in cli), cli[:3]
    # nothing written outside the test's directory, nothing left beside the inputs
    assert set(os.listdir(ROOT)) == before
    assert not list(work.iterdir())
    written = {p.name for p in fuzz.iterdir()} - {c[0] for c in cases} - {
        "cases.json", "cli.json", "results.json", "cli_results.json"} - {
        f.name for f in bases.values()}
    assert not written, written


# --------------------------------------------------------------------------- text from data
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_text_from_data_is_inert_in_html_and_exports():
    """Bidi controls and other invisible format characters from data are shown as
    [U+XXXX] in every HTML table and escaped string; CSV/JSON exports defuse formulas."""
    from shap_debug.core import (
        escape,
        inert_text,
        section_html,
        spreadsheet_safe_frame,
        table_html,
    )

    rng = np.random.default_rng(0)
    hidden = "".join(rng.permutation(list(BIDI + "\u200b\u200d\ufeff\U000e0041")))
    frame = pd.DataFrame({f"col{hidden}": [f"evil{hidden}<b>x</b>", "=cmd|' /C calc'!A0"],
                          "n": [-1.5, 2.0], "cat": pd.Categorical(["a\u202eb", "+1"])},
                         index=[f"row{BIDI}", "@SUM(A1)"])
    html = table_html(frame, index=True) + section_html(f"title{hidden}", "", note=hidden)
    html += escape(hidden)
    assert not any(c in html for c in hidden), [hex(ord(c)) for c in hidden if c in html]
    assert "[U+202E]" in html and "[U+E0041]" in html and "&lt;b&gt;" in html
    assert inert_text("plain text, ünïcödé") == "plain text, ünïcödé"
    safe = spreadsheet_safe_frame(frame)
    csv = safe.to_csv()
    assert "'=cmd" in csv and "'@SUM" in csv and "'+1" in csv and "-1.5" in csv
    assert not any(c in csv for c in hidden)
    for line in csv.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), cell
    assert frame.iloc[1, 0] == "=cmd|' /C calc'!A0"            # the input is not modified
