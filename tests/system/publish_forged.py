"""Test helper run as a child process: serve an encrypted stream in which an attacker forged one object's id
and replayed another.

    python publish_forged.py KEY_FILE CHANNEL

Serves CHANNEL at once; on a line on standard input publishes objects 1-10 encrypted with KEY_FILE, with
object 4 first sent with its id changed to 1004 (the encrypted structure's id, not authenticated by the
receiver) and object 2 sent again after object 4. Exits at end of input.
"""

import sys
import time

import numpy as np
import pvaccess as pva

from pvaflow import ntnd
from pvaflow.processors.encryption import AdImageDataEncryptor


def main() -> None:
    key_file, channel = sys.argv[1:3]
    encryptor = AdImageDataEncryptor({"privateKeyFilePath": key_file})
    encrypted = {i: encryptor.process(ntnd.generate(i, np.full((4, 4), i, np.uint8))) for i in range(1, 11)}
    forged = encrypted[4].copy()
    forged["objectId"] = 1004
    order = [encrypted[1], encrypted[2], encrypted[3], forged, encrypted[4], encrypted[2],
             *(encrypted[i] for i in range(5, 11))]
    server = pva.PvaServer()
    server.addRecord(channel, encrypted[1].copy(), None)
    server.start()
    print("serving", flush=True)
    sys.stdin.readline()
    for pv in order:
        server.update(channel, pv)
        time.sleep(0.05)
    print("published", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
