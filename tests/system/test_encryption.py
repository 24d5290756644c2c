"""Encryption through real consumers: sim-server -> encryptor -> decryptor equals the source; keys change at runtime."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pvaccess as pva
import pytest

from ..keyfiles import write_key_files
from ..pv_compare import values_equal
from .helpers import control, get, start_frames, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]
HERE = Path(__file__).parent


class ObjectRecorder:
    """Keeps a copy of every update of a channel, by object id."""

    def __init__(self, channel_name: str, id_field: str = "uniqueId") -> None:
        self.objects: dict[int, pva.PvObject] = {}
        self.lock = threading.Lock()
        self.id_field = id_field
        self.channel = pva.Channel(channel_name)
        self.channel.subscribe("recorder", self.on_update)
        self.channel.startMonitor("record[queueSize=200]field()")

    def on_update(self, pv: pva.PvObject) -> None:
        if pv[self.id_field] > 0:  # not a record's initial value
            with self.lock:
                self.objects[pv[self.id_field]] = pv.copy()

    def stop(self) -> dict[int, pva.PvObject]:
        self.channel.stopMonitor()
        self.channel.unsubscribe("recorder")
        with self.lock:
            return dict(self.objects)


def start_pair(start_process, wait_for_channel, keys, sign: bool, verify: bool, decryptor_class="AdImageDataDecryptor",
               decryptor_key=None):
    encryptor = start_process(
        "consumer", "-ic", "enc:image", "-oc", "enc:encrypted", "-pc", "AdImageDataEncryptor",
        "-pa", json.dumps({"privateKeyFilePath": str(keys["pkcs1.pem"]), "sign": sign}),
        "-sc", "enc:status:1", "-cc", "enc:control:1", "-rqs", "100", "-dc")
    decryptor = start_process(
        "consumer", "-ic", "enc:encrypted", "-of", "objectId", "-oc", "enc:decrypted",
        "-pc", decryptor_class,
        "-pa", json.dumps({"privateKeyFilePath": str(decryptor_key or keys["id_rsa"]), "verify": verify}),
        "-sc", "enc:status:2", "-cc", "enc:control:2", "-rqs", "100", "-dc")
    wait_for_channel("enc:control:1", encryptor)
    wait_for_channel("enc:control:2", decryptor)
    return encryptor, decryptor


def stats(channel: str) -> dict:
    return get(channel)["userStats"]


def test_sim_server_to_encryptor_to_decryptor_equals_the_source(start_process, wait_for_channel, tmp_path) -> None:
    keys = write_key_files(tmp_path / "keys")
    server = start_process("sim-server", "-cn", "enc:image", "-nx", "128", "-ny", "96", "-dt", "uint16",
                           "-nf", "40", "-cs", "20", "-fps", "20", "-sos", "-std", "60", "-shd", "3", "-rp", "0", "-dc")
    wait_for_channel("enc:image", server)
    _, decryptor = start_pair(start_process, wait_for_channel, keys, sign=True, verify=True)
    wait_for_channel("enc:decrypted", decryptor)  # AdImageDataDecryptor's output exists from the start
    source = ObjectRecorder("enc:image")
    decrypted = ObjectRecorder("enc:decrypted")
    start_frames(server, "enc:status:1", "enc:status:2")
    assert server.wait(60) == 0
    wait_until(lambda: stats("enc:status:2")["nDecrypted"] == 40, what="40 objects decrypted")
    originals, copies = source.stop(), decrypted.stop()
    assert sorted(copies) == list(range(1, 41))
    assert sorted(originals) == list(range(1, 41))
    for object_id, original in originals.items():
        copy = copies[object_id]
        assert str(copy) == str(original), f"object {object_id} differs"  # structure, type ids, every value
        assert values_equal(copy.toDict(), original.toDict())
    encryptor_stats, decryptor_stats = stats("enc:status:1"), stats("enc:status:2")
    assert encryptor_stats["nEncrypted"] == 40 and encryptor_stats["nFailed"] == 0
    assert encryptor_stats["nDataKeys"] == 1
    assert decryptor_stats["nFailed"] == 0 and decryptor_stats["nVerificationFailures"] == 0
    assert decryptor_stats["nBytesDecrypted"] == encryptor_stats["nBytesEncrypted"]


def test_key_files_change_at_runtime_through_the_control_channels(start_process, wait_for_channel, tmp_path) -> None:
    keys = write_key_files(tmp_path / "keys")
    other = write_key_files(tmp_path / "other")
    server = start_process("sim-server", "-cn", "enc:image", "-nx", "32", "-ny", "32", "-cs", "10",
                           "-fps", "20", "-rt", "60", "-std", "4", "-rp", "0", "-dc")
    wait_for_channel("enc:image", server)
    start_pair(start_process, wait_for_channel, keys, sign=False, verify=False)
    wait_until(lambda: stats("enc:status:2")["nDecrypted"] >= 5, timeout=30, what="decrypting with the first key")
    reply = control("enc:control:1", "configure", json.dumps({"privateKeyFilePath": str(other["pkcs8.pem"])}))
    assert reply == "Configuration successful"
    wait_until(lambda: stats("enc:status:2")["nFailed"] >= 3, what="objects for the other key rejected")
    refused = control("enc:control:2", "configure", '{"privateKeyFilePath": "/nonexistent.pem"}')
    assert refused.startswith("Configuration failed")
    reply = control("enc:control:2", "configure", json.dumps({"privateKeyFilePath": str(other["id_rsa"])}))
    assert reply == "Configuration successful"
    decrypted = stats("enc:status:2")["nDecrypted"]
    wait_until(lambda: stats("enc:status:2")["nDecrypted"] >= decrypted + 5, what="decrypting with the new key")
    status = get("enc:status:2")
    # objects for the other key are not authentic to this decryptor: rejected, not errors
    assert status["processorStats"]["nRejected"] == status["userStats"]["nFailed"] > 0
    assert status["processorStats"]["nErrors"] == 0


def test_a_generic_decryptor_creates_its_output_once_an_object_decrypts(start_process, wait_for_channel,
                                                                       tmp_path) -> None:
    keys = write_key_files(tmp_path / "keys")
    other = write_key_files(tmp_path / "other")
    server = start_process("sim-server", "-cn", "enc:image", "-nx", "32", "-ny", "32", "-cs", "10",
                           "-fps", "20", "-rt", "60", "-std", "4", "-rp", "0", "-dc")
    wait_for_channel("enc:image", server)
    start_pair(start_process, wait_for_channel, keys, sign=False, verify=False, decryptor_class="DataDecryptor",
               decryptor_key=other["pkcs8.pem"])
    wait_until(lambda: stats("enc:status:2")["nFailed"] >= 3, timeout=30, what="objects for another key rejected")
    with pytest.raises(pva.PvaException):
        channel = pva.Channel("enc:decrypted")
        channel.setTimeout(1)
        channel.get("field()")
    reply = control("enc:control:2", "configure", json.dumps({"privateKeyFilePath": str(keys["pkcs8.pem"])}))
    assert reply == "Configuration successful"
    decrypted = ObjectRecorder("enc:decrypted")  # the output channel appears with the first decrypted object
    wait_until(lambda: len(decrypted.objects) >= 5, what="decrypted objects on the output channel")
    assert all(str(pv).startswith("epics:nt/NTNDArray:1.0") for pv in decrypted.stop().values())


def test_forged_ids_and_replays_are_rejected_and_never_move_the_accounting(start_process, wait_for_channel,
                                                                           tmp_path) -> None:
    keys = write_key_files(tmp_path)
    source = start_process(str(keys["pkcs8.pem"]), "forged:encrypted", script=str(HERE / "publish_forged.py"))
    wait_for_channel("forged:encrypted", source)
    decryptor = start_process("consumer", "-ic", "forged:encrypted", "-of", "objectId", "-pc", "AdImageDataDecryptor",
                              "-pa", json.dumps({"privateKeyFilePath": str(keys["pkcs8.pem"])}),
                              "-sc", "forged:status", "-rqs", "100", "-dc")
    wait_for_channel("forged:status", decryptor)
    wait_until(lambda: get("forged:status")["processorStats"]["nSkipped"] == 1, what="the initial update")
    source.send_line()
    wait_until(lambda: get("forged:status")["processorStats"]["lastObjectId"] == 10, what="all objects handled")
    processor = get("forged:status")["processorStats"]
    assert (processor["nProcessed"], processor["nRejected"]) == (10, 2)
    assert (processor["nMissed"], processor["nIdRestarts"], processor["nErrors"]) == (0, 0, 0)
    assert stats("forged:status")["nDecrypted"] == 10
    log = decryptor.output
    assert "authentication failed" in log and "a replay" in log
