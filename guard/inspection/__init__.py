"""Inspection: the pure, synchronous decision core every adapter calls.

    OutboundMessage
      -> extract     (MIME parts, HTML, attachments -> text segments)      extract.py
      -> normalise   (NFKC, invisible characters, entities; offset map)   normalise.py
      -> detect      (rule packs: patterns, validators, context)           detect.py
      -> classify    (internal / external per recipient or route)          audience.py
      -> decide      (ordered policy table -> action)                      policy.py
    -> Verdict

`Inspector` holds the compiled rules and policy; build it once with `from_settings`.
"""

from guard.inspection.pipeline import Inspector

__all__ = ["Inspector"]
