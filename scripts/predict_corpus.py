"""Write predictions for a labelled corpus in the scorer's format (development aid).

python scripts/predict_corpus.py ../shared/corpus/dev.jsonl > preds.jsonl
"""

from __future__ import annotations

import json
import sys

from guard.config import load_settings
from guard.inspection import Inspector


def main() -> None:
    settings = load_settings(None, data_dir="/tmp/guard-predict", rules={"hash_key": "predict"})
    inspector = Inspector.from_settings(settings)
    with open(sys.argv[1], encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            spans = [
                {"type": f.type, "start": f.start, "end": f.end} for f in inspector.scan_text(rec["text"])
            ]
            print(json.dumps({"id": rec["id"], "spans": spans}))


if __name__ == "__main__":
    main()
