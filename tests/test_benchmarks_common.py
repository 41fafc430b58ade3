"""benchmarks/_common: one parser, the run's provenance read at start, one JSON schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import RESULTS, parser, run_info, write_result  # noqa: E402


def test_parser_has_the_common_arguments_and_takes_more():
    p = parser("demo", "Demo benchmark.\n\nMore text.", seed=3)
    p.add_argument("--rows", type=int, default=10)
    a = p.parse_args([])
    assert (a.quick, a.seed, a.out, a.rows) == (False, 3, RESULTS / "demo.json", 10)
    a = p.parse_args(["--quick", "--seed", "7", "--out", "x.json"])
    assert (a.quick, a.seed, a.out) == (True, 7, Path("x.json"))
    assert p.description == "Demo benchmark."


def test_one_schema_with_provenance_read_at_start(tmp_path):
    info = run_info(("json",))
    assert {"commit", "dirty", "started_utc", "machine", "versions"} <= set(info)
    assert info["machine"]["cpu_count"] and info["versions"]["numpy"] == np.__version__
    args = parser("demo", "Demo.").parse_args(["--out", str(tmp_path / "d.json")])
    doc = write_result(args.out, "demo", info, args, {"mae": np.float64(0.25), "n": np.int64(4)})
    saved = json.loads(args.out.read_text())
    assert saved == json.loads(json.dumps(doc, default=float))
    assert saved["benchmark"] == "demo" and saved["schema"] == 1
    assert saved["started_utc"] == info["started_utc"] <= saved["finished_utc"]
    assert saved["settings"] == {"quick": False, "seed": 0} and saved["mae"] == 0.25
    assert not list(tmp_path.glob("*.tmp"))                      # written atomically
    with pytest.raises(ValueError, match="reserved"):
        write_result(args.out, "demo", info, args, {"machine": 1})
