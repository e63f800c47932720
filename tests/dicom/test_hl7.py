"""sonobridge.dicom.hl7: ER7 parsing and ORU^R01 building checked with hl7apy (the reference HL7 v2
library: it parses our messages, strictly validates them, and we parse what it builds); MLLP send and
listen over loopback, against hl7apy's MLLP server and a hand-framed raw socket client."""
from __future__ import annotations

import socket
import threading

import pytest

from sonobridge.dicom import hl7
from sonobridge.errors import FormatError, NetworkError

hl7apy = pytest.importorskip("hl7apy")
from hl7apy.consts import VALIDATION_LEVEL  # noqa: E402
from hl7apy.core import Message  # noqa: E402
from hl7apy.mllp import AbstractHandler, MLLPServer  # noqa: E402
from hl7apy.parser import parse_message  # noqa: E402

TIMEOUT_S = 10.0
CONFIG = {"our_facility": "HOSP", "their_app": "HIS", "their_facility": "HOSP", "control_id": "MSG0001",
          "timestamp": "20240131120000"}
CONTEXT = {"patient_id": "P7", "patient_id_authority": "HOSP", "patient_name": "Doe^Jane",
           "patient_birth_date": "19800101", "patient_sex": "F", "order_number": "ORD1", "accession_number": "ACC1",
           "procedure_code": "US-ABD", "procedure_description": "Abdominal US", "procedure_coding_system": "L",
           "modality": "US", "ordering_provider": "123^House^Greg", "observation_datetime": "20240131113000"}
OBSERVATIONS = [{"observation_id": "IMP", "observation_text": "Impression", "value": "Normal | study ^ & ~ \\\nend"},
                {"observation_id": "DEPTH", "value": "4.5", "value_type": "NM", "units": "cm"}]


def _strict(message: str):
    """hl7apy's strict parse (groups found) of ``message``, validated."""
    parsed = parse_message(message, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate()
    return parsed


@pytest.fixture(scope="module")
def oru() -> str:
    return hl7.build_oru(CONFIG, CONTEXT, OBSERVATIONS)


def test_the_oru_is_a_valid_hl7_v25_oru_r01_for_hl7apy(oru):
    parsed = _strict(oru)
    assert parsed.name == "ORU_R01" and parsed.msh.msh_12.to_er7() == "2.5"
    assert parsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01" and parsed.msh.msh_10.to_er7() == "MSG0001"
    result = parsed.oru_r01_patient_result
    assert result.oru_r01_patient.pid.pid_5.to_er7() == "Doe^Jane"
    assert result.oru_r01_patient.pid.pid_3.to_er7() == "P7^^^HOSP^MR"
    order = result.oru_r01_order_observation
    assert order.obr.obr_3.to_er7() == "ACC1" and order.obr.obr_24.to_er7() == "US"
    observations = order.oru_r01_observation
    assert [o.obx.obx_2.to_er7() for o in observations] == ["TX", "NM"]
    assert observations[1].obx.obx_6.to_er7() == "cm" and observations[1].obx.obx_11.to_er7() == "F"
    # the delimiters in the text were escaped, its lines are repetitions: hl7apy reads them as written
    assert [v.to_er7() for v in observations[0].obx.obx_5] == ["Normal \\F\\ study \\S\\ \\T\\ \\R\\ \\E\\", "end"]
    hl7.validate(oru)


def test_defaults_fill_absent_keys():
    message = hl7.build_oru({}, {"patient_id": "P1", "patient_name": "Roe^Rick"},
                            [{"observation_id": "X", "value": "v"}])
    msh = hl7.parse(message)[0]["fields"]
    assert msh[2] == "SONOBRIDGE" and msh[8] == "ORU^R01^ORU_R01" and msh[11] == "2.5" and msh[9]   # control id made
    obx = hl7.parse(message)[-1]["fields"]
    assert obx[2] == "TX" and obx[11] == "F"
    _strict(message)


def test_unknown_keys_are_refused():
    with pytest.raises(FormatError, match="unknown context key"):
        hl7.build_oru({}, {"patient": "x"}, [])


def test_we_parse_what_hl7apy_builds():
    message = Message("ADT_A01", version="2.5")
    message.msh.msh_3, message.msh.msh_4 = "RIS", "HOSP"
    message.msh.msh_10, message.msh.msh_11 = "CTRL42", "P"
    message.pid.pid_3 = "12345^^^HOSP^MR"
    message.pid.pid_5 = "Smith^Anna"
    segments = hl7.parse(message.to_er7())
    assert segments[0]["id"] == "MSH" and {"PID"} <= {s["id"] for s in segments}
    by_id = {s["id"]: s["fields"] for s in segments}
    assert by_id["MSH"][2] == "RIS" and by_id["MSH"][9] == "CTRL42"
    assert by_id["PID"][3] == "12345^^^HOSP^MR" and by_id["PID"][5] == "Smith^Anna"


def test_parse_accepts_bytes_and_line_feeds(oru):
    assert hl7.parse(oru.replace("\r", "\n").encode("utf-8")) == hl7.parse(oru)
    assert hl7.parse(hl7.frame(oru)) == hl7.parse(oru)


@pytest.mark.parametrize("bad", ["", "PID|1||x", "MSH", "MSHa^~\\&|x", "MSH|^^\\&|x", "MSH|^~\\&|x\rpid|1"])
def test_malformed_messages_raise(bad):
    with pytest.raises(FormatError):
        hl7.parse(bad)


def test_validate_rejects_what_hl7apy_rejects(oru):
    broken = "\r".join(line for line in oru.split("\r") if not line.startswith("OBR")) + "\r"
    with pytest.raises(FormatError, match="invalid HL7"):
        hl7.validate(broken)


def test_ack_is_valid_and_echoes_the_control_id(oru):
    reply = _strict(hl7.ack(oru))
    assert reply.msa.msa_1.to_er7() == "AA" and reply.msa.msa_2.to_er7() == "MSG0001"
    assert reply.msh.msh_3.to_er7() == "HIS" and reply.msh.msh_5.to_er7() == "SONOBRIDGE"


def test_listen_receives_and_acks_what_send_sends(oru):
    with hl7.listen(port=0, timeout_s=TIMEOUT_S) as inbox:
        assert inbox.port > 0
        answer = hl7.send(oru, "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
        assert inbox.get(timeout_s=TIMEOUT_S) == oru
    reply = _strict(answer)
    assert reply.msa.msa_1.to_er7() == "AA" and reply.msa.msa_2.to_er7() == "MSG0001"


def test_listen_with_a_raw_client_two_messages_in_pieces_on_one_connection(oru):
    second = hl7.build_oru({**CONFIG, "control_id": "MSG0002"}, CONTEXT, OBSERVATIONS)
    data = hl7.frame(oru) + hl7.frame(second)
    with hl7.listen(port=0, timeout_s=TIMEOUT_S) as inbox, \
            socket.create_connection(("127.0.0.1", inbox.port), timeout=TIMEOUT_S) as client:
        for start in range(0, len(data), 50):          # MLLP blocks split across TCP writes
            client.sendall(data[start:start + 50])
        answers = b""
        while answers.count(b"\x1c\r") < 2:
            chunk = client.recv(4096)
            assert chunk, "the listener closed before answering both messages"
            answers += chunk
        assert [inbox.get(TIMEOUT_S), inbox.get(TIMEOUT_S)] == [oru, second]
    blocks = [block.strip(b"\x0b") for block in answers.split(b"\x1c\r") if block]
    assert [_strict(block.decode()).msa.msa_2.to_er7() for block in blocks] == ["MSG0001", "MSG0002"]


def test_send_to_hl7apy_mllp_server(oru):
    received = []

    class Reply(AbstractHandler):
        def reply(self):
            incoming = parse_message(self.incoming_message)
            received.append(incoming.msh.msh_10.to_er7())
            answer = Message("ACK", version="2.5")
            answer.msh.msh_3, answer.msh.msh_10, answer.msh.msh_11 = "HIS", "A1", "P"
            answer.msa.msa_1, answer.msa.msa_2 = "AA", incoming.msh.msh_10.to_er7()
            return "\x0b" + answer.to_er7() + "\x1c\r"

    server = MLLPServer("127.0.0.1", 0, {"ORU^R01^ORU_R01": (Reply,)}, timeout=TIMEOUT_S)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = hl7.send(oru, "127.0.0.1", server.server_address[1], timeout_s=TIMEOUT_S)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT_S)
    assert received == ["MSG0001"]
    assert hl7.parse(answer)[1]["fields"][:3] == ["MSA", "AA", "MSG0001"]


def test_send_to_nobody_is_a_network_error(oru):
    with socket.socket() as probe:              # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError, match="mllp://127.0.0.1"):
        hl7.send(oru, "127.0.0.1", port, timeout_s=2.0)


def test_a_receiver_that_never_answers_times_out(oru):
    with hl7.listen(port=0, handler=lambda message: None, timeout_s=TIMEOUT_S) as inbox:
        with pytest.raises(NetworkError, match="no answer within"):
            hl7.send(oru, "127.0.0.1", inbox.port, timeout_s=0.5)
        assert inbox.get(TIMEOUT_S) == oru


def test_listen_answers_a_custom_handler(oru):
    with hl7.listen(port=0, handler=lambda message: hl7.ack(message, "AE", "no such order"),
                    timeout_s=TIMEOUT_S) as inbox:
        answer = hl7.send(oru, "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
    assert hl7.parse(answer)[1]["fields"][1:4] == ["AE", "MSG0001", "no such order"]


def test_a_message_that_does_not_parse_is_answered_ar():
    with hl7.listen(port=0, timeout_s=TIMEOUT_S) as inbox:
        answer = hl7.send("PID|1||not a message", "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
    assert hl7.parse(answer)[1]["fields"][1] == "AR" and "MSH" in hl7.parse(answer)[1]["fields"][3]


def test_validate_without_hl7apy_names_the_extra(monkeypatch, oru):
    import sys

    from sonobridge.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "hl7apy.parser", None)
    with pytest.raises(MissingDependencyError, match=r"sonobridge\[hl7\]"):
        hl7.validate(oru)


def test_a_failing_handler_is_answered_ae_and_the_listener_goes_on(oru):
    def handler(message: str) -> str:
        raise RuntimeError("database down")

    with hl7.listen(port=0, handler=handler, timeout_s=TIMEOUT_S) as inbox:
        first = hl7.send(oru, "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
        second = hl7.send(oru, "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
    assert hl7.parse(first)[1]["fields"][1:3] == hl7.parse(second)[1]["fields"][1:3] == ["AE", "MSG0001"]
    assert "database down" in hl7.parse(first)[1]["fields"][3]


def test_bytes_in_latin_1_declared_in_msh_18():
    message = hl7.build_oru({"specific_character_set": "8859/1"}, {"patient_name": "Müller^Jürgen"}, [])
    assert hl7.parse(message.encode("latin-1"))[1]["fields"][5] == "Müller^Jürgen"


def test_garbage_to_a_failing_handler_still_gets_an_answer():
    def handler(message: str) -> str:
        raise RuntimeError("database down")

    with hl7.listen(port=0, handler=handler, timeout_s=TIMEOUT_S) as inbox:
        answer = hl7.send("PID|1||not a message", "127.0.0.1", inbox.port, timeout_s=TIMEOUT_S)
    assert hl7.parse(answer)[1]["fields"][1] == "AR"
