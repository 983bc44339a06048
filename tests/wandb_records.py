"""Read back what an offline wandb run wrote (``offline-run-*/run-*.wandb``), for the tests.

The file is wandb's transaction log: a 7-byte header (``:W&B``, a 2-byte magic, a version
byte), then LevelDB-log framed records in 32 KiB blocks (each fragment: CRC32 4 bytes,
length 2 bytes, type 1 byte; FULL=1, FIRST=2, MIDDLE=3, LAST=4; a block tail shorter than a
header is padding). Each record is a ``wandb_internal_pb2.Record`` protobuf message.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7


def raw_records(path: Path) -> list[bytes]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a wandb transaction log")
    position, records, pending = HEADER, [], b""
    while position + HEADER <= len(data):
        room = BLOCK - position % BLOCK
        if room < HEADER:  # padding at the end of a block
            position += room
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + HEADER])
        chunk = data[position + HEADER:position + HEADER + length]
        position += HEADER + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
            pending = b""
        elif kind == 0 and length == 0:  # zero fill
            position += room - HEADER
    return records


def read_run(folder: Path) -> dict:
    """``run`` (group, name, tags), ``metrics`` (define_metric: name -> summary kinds),
    ``history`` (rows of key -> value), ``artifacts`` (name, type, aliases, files)."""
    from wandb.proto import wandb_internal_pb2

    path = next(Path(folder).glob("run-*.wandb"))
    found = {"run": None, "metrics": {}, "history": [], "artifacts": [], "summary": {}}
    for data in raw_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            found["run"] = {"group": run.run_group, "name": run.display_name, "tags": list(run.tags),
                            "id": run.run_id}
        elif kind == "metric":
            metric = record.metric
            found["metrics"][metric.name or metric.glob_name] = {
                kind_: getattr(metric.summary, kind_) for kind_ in ("max", "min", "last", "best")}
        elif kind == "history":
            found["history"].append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                     for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                found["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "artifact":
            artifact = record.artifact
            found["artifacts"].append({"name": artifact.name, "type": artifact.type,
                                       "aliases": list(artifact.aliases),
                                       "files": [entry.path for entry in artifact.manifest.contents]})
    return found
