"""A connector on ccf_connector over a synthetic source, for test_kit.py
and bench/kit_sync.py. Everything comes from the environment:

SYN_IDS      ranges of document numbers the source has ("0-4999,6000-6099"),
             document ids d00000...
SYN_V2       ranges whose content is at version 2 (else version 1)
SYN_FAIL     ranges whose push the target refuses
SYN_DEL_FAIL ranges whose delete the target refuses
SYN_OUT      a file the target appends "P id" / "D id" lines to (optional)
SYN_CHECKPOINT  "dict" (save {"runs": n}) or any other text to save as is

It prints "synthetic: checkpoint <json>" at the start and, at the end,
"synthetic: peak_rss_kib N".
"""

import json
import os
import resource

from ccf_connector import Connector, Document


def ranges(text):
    for part in filter(None, (text or "").split(",")):
        lo, _, hi = part.partition("-")
        yield from range(int(lo), int(hi or lo) + 1)


class InRanges:
    """Membership in SYN_* ranges without a set of every number."""

    def __init__(self, text):
        self.spans = [tuple(int(x) for x in (p.partition("-")[0], p.partition("-")[2] or p))
                      for p in filter(None, (text or "").split(","))]

    def __contains__(self, n):
        return any(lo <= n <= hi for lo, hi in self.spans)


class Synthetic(Connector):
    def __init__(self):
        super().__init__()
        env = os.environ
        self.v2 = InRanges(env.get("SYN_V2"))
        self.fail = InRanges(env.get("SYN_FAIL"))
        self.del_fail = InRanges(env.get("SYN_DEL_FAIL"))
        self.out = open(env["SYN_OUT"], "a", encoding="utf-8") if env.get("SYN_OUT") else None

    def documents(self):
        self.log("checkpoint " + json.dumps(self.checkpoint))
        for n in ranges(os.environ.get("SYN_IDS")):
            version = 2 if n in self.v2 else 1
            yield Document(f"d{n:05d}", content=f"document {n} version {version}")

    def push(self, batch):
        failed = [d.id for d in batch if int(d.id[1:]) in self.fail]
        if self.out:
            self.out.writelines(f"P {d.id}\n" for d in batch if d.id not in failed)
        return failed

    def delete(self, ids):
        failed = [i for i in ids if int(i[1:]) in self.del_fail]
        if self.out:
            self.out.writelines(f"D {i}\n" for i in ids if i not in failed)
        return failed

    def sync(self):
        stats = super().sync()
        mode = os.environ.get("SYN_CHECKPOINT")
        if mode == "dict":
            runs = (self.checkpoint or {}).get("runs", 0) if isinstance(self.checkpoint, dict) else 0
            self.save_checkpoint({"runs": runs + 1, "note": "é \u00e9 {}"})
        elif mode:
            self.save_checkpoint(mode)
        if self.out:
            self.out.close()
        self.log(f"peak_rss_kib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
        return stats


if __name__ == "__main__":
    Synthetic.main()
