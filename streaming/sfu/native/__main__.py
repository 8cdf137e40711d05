"""`python -m streaming.sfu.native`: build the SFU's native fan-out (make install runs it). Exit 0 even without a
compiler: the SFU then forwards in Python, and the line printed says how to add one. CC names another compiler."""

import os

from streaming.sfu.native import build

if __name__ == "__main__":
    built = build(os.environ.get("CC") or None)
    if built is not None:
        print(f"native SFU fan-out built: {built}")
