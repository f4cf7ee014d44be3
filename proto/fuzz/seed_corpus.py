#!/usr/bin/env python3
"""Builds the fuzz seed corpora from proto/tests/vectors (the corpora themselves are not
committed: corpus/ is gitignored and grows during fuzzing).

Usage (from proto/fuzz): python3 seed_corpus.py
Writes corpus/ilp_packet/, corpus/btp_packet/, corpus/timestamps/, one file per vector,
named after the vector. Existing files are kept, so it is safe to run on a grown corpus.
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = HERE.parent / "tests" / "vectors"


def load(name):
    return json.loads((VECTORS / name).read_text())


def write(target, name, data):
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    (folder / f"seed_{safe}").write_bytes(data)


def main():
    ilp = load("ilp_packets.json")
    btp = load("btp_packets.json")
    oer = load("oer_primitives.json")
    counts = {"ilp_packet": 0, "btp_packet": 0, "timestamps": 0}

    def add(target, name, data):
        write(target, name, data)
        counts[target] += 1

    for v in ilp["vectors"]:
        add("ilp_packet", v["name"], bytes.fromhex(v["hex"]))
    for v in btp["vectors"]:
        raw = bytes.fromhex(v["hex"])
        add("btp_packet", v["name"], raw)
        # ILP packets carried inside BTP are ILP seeds too.
        nested = v.get("decoded", {}).get("protocolData", [])
        for i, entry in enumerate(nested):
            if entry.get("protocolName") == "ilp" and entry.get("data_hex"):
                add("ilp_packet", f"{v['name']}_ilp{i}", bytes.fromhex(entry["data_hex"]))
    for section in ("ilp_fixed_timestamps", "btp_generalized_time"):
        for i, v in enumerate(oer[section]):
            add("timestamps", f"{section}_{i}", v["string"].encode())
    for i, v in enumerate(oer["ilp_addresses"]):
        text = v.get("address") or v.get("decoded", {}).get("address", "")
        add("timestamps", f"address_{i}", text.encode())
    for v in oer["uint64"]:
        add("timestamps", v["name"], bytes.fromhex(v["hex"]))
    for target, n in counts.items():
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
