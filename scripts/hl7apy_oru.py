#!/usr/bin/env python3
"""HL7 v2 test messages from an outside library (hl7apy, PyPI), for the lab
interface's tests.

  hl7apy_oru.py oru --control ID --mrn MRN --family NAME --given NAME --dob YYYYMMDD
                    [--specimen ID] [--collected TS] [--result LOINC=detected|not_detected ...]
      Build an ORU^R01 v2.5.1 with hl7apy, validate it against hl7apy's
      v2.5.1 structure (strict), print it (segments separated by CR).
  hl7apy_oru.py ack --control ID
      Read an ACK on standard input, parse and validate it with hl7apy,
      check MSA-2 echoes ID, print MSA-1.
"""
import argparse
import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message

SNOMED = {
    "detected": "260373001^Detected^SCT",
    "not_detected": "260415000^Not detected^SCT",
}


def oru(a):
    m = Message("ORU_R01", version="2.5.1", validation_level=VALIDATION_LEVEL.STRICT)
    m.msh.msh_3 = "TOXLAB"
    m.msh.msh_4 = "ACMELAB"
    m.msh.msh_5 = "CAREPATH"
    m.msh.msh_6 = "OTP"
    m.msh.msh_7 = "20261201083000-0600"
    m.msh.msh_9 = "ORU^R01^ORU_R01"
    m.msh.msh_10 = a.control
    m.msh.msh_11 = "P"
    m.msh.msh_12 = "2.5.1"
    pr = m.add_group("ORU_R01_PATIENT_RESULT")
    pat = pr.add_group("ORU_R01_PATIENT")
    pat.pid.pid_1 = "1"
    pat.pid.pid_3 = a.mrn + "^^^CAREPATH^MR"
    pat.pid.pid_5 = a.family + "^" + a.given
    pat.pid.pid_7 = a.dob
    oo = pr.add_group("ORU_R01_ORDER_OBSERVATION")
    oo.orc.orc_1 = "RE"
    oo.obr.obr_1 = "1"
    if a.specimen:
        oo.obr.obr_2 = a.specimen + "^CAREPATH"
    oo.obr.obr_3 = "ACC-" + a.control + "^TOXLAB"
    oo.obr.obr_4 = "URDS^Urine drug screen panel^L"
    oo.obr.obr_7 = a.collected
    oo.obr.obr_25 = "F"
    for i, r in enumerate(a.result, start=1):
        code, value = r.split("=")
        obs = oo.add_group("ORU_R01_OBSERVATION")
        obs.obx.obx_1 = str(i)
        obs.obx.obx_2 = "CWE"
        obs.obx.obx_3 = code + "^^LN"
        obs.obx.obx_5 = SNOMED[value]
        obs.obx.obx_8 = "A" if value == "detected" else "N"
        obs.obx.obx_11 = "F"
        obs.obx.obx_14 = a.collected
    m.validate()
    sys.stdout.write(m.to_er7())


def ack(a):
    text = sys.stdin.read().strip().replace("\n", "\r")
    m = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)
    m.validate()
    code = m.msa.msa_1.to_er7()
    echoed = m.msa.msa_2.to_er7()
    if echoed != a.control:
        sys.exit(f"MSA-2 is {echoed!r}, expected {a.control!r}")
    print(code)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("oru")
    o.add_argument("--control", required=True)
    o.add_argument("--mrn", required=True)
    o.add_argument("--family", required=True)
    o.add_argument("--given", default="Alpha")
    o.add_argument("--dob", required=True)
    o.add_argument("--specimen")
    o.add_argument("--collected", default="20261130091500-0600", help="OBR-7 / OBX-14 (HL7 TS)")
    o.add_argument("--result", action="append", default=[])
    k = sub.add_parser("ack")
    k.add_argument("--control", required=True)
    a = p.parse_args()
    oru(a) if a.cmd == "oru" else ack(a)


if __name__ == "__main__":
    main()
