"""A Singer tap for the bad-input corpus: replays a file of Singer messages as its output.

`python replay_tap.py FILE [--discover | --config C --catalog K --state S]`. With --discover it
prints a catalog of the streams the file's SCHEMA messages name; otherwise it prints the file's
lines as they are. A line `#exit N` makes it stop there with exit code N, as a tap dying midway.
"""

import json
import sys

path = sys.argv[1]
lines = open(path, encoding="utf-8", errors="surrogateescape").read().splitlines()
if "--discover" in sys.argv:
    streams = []
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "SCHEMA":
            streams.append(
                {
                    "tap_stream_id": message["stream"],
                    "stream": message["stream"],
                    "schema": message["schema"],
                    "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
                }
            )
    print(json.dumps({"streams": streams}))
    sys.exit(0)
for line in lines:
    if line.startswith("#exit "):
        sys.stdout.flush()
        sys.exit(int(line.split()[1]))
    sys.stdout.write(line + "\n")
