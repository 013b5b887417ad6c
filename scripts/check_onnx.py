#!/usr/bin/env python3
"""Independent validation of exported ONNX models with the ONNX project's own checker.

Run with Debian's python3-onnx (apt-get install python3-onnx): /usr/bin/python3 scripts/check_onnx.py FILE...
Exits non-zero, naming the file, if any model fails onnx.checker (full check, with shape inference).
"""
import sys

import onnx

failed = 0
for path in sys.argv[1:]:
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        print(f"ok {path} (ir {model.ir_version}, opset {model.opset_import[0].version})")
    except Exception as err:  # report every failing file, not just the first
        failed += 1
        print(f"FAILED {path}: {err}", file=sys.stderr)
if not sys.argv[1:]:
    print("no models given", file=sys.stderr)
    sys.exit(2)
sys.exit(1 if failed else 0)
