#!/usr/bin/python3
"""Validates JSON documents against one of coinrelay's message schemas (schemas/*.json).

Input: JSON Lines (one document per line), from files or standard input ("-"). With --kcat,
each line is instead a `kcat -C -J` envelope: the payload is validated, and the message key must
equal the payload's `id` (the topic is keyed by coin id) and stay on one partition.

  validate_json.py schemas/quote.v1.json quotes.jsonl
  kcat -C -b 127.0.0.1:9092 -t crypto-data -e -J -q \
    | validate_json.py --kcat schemas/quote.v1.json -
  validate_json.py --expect-invalid schemas/quote.v1.json broken.jsonl   # each line must fail

Prints one line per refused document ("line N: invalid at <path>: <message>") and a summary;
exits 0 when every document got the expected verdict, 1 otherwise, 2 on a usage error.

It runs on Debian's python3-jsonschema (tools/install-deps.sh), hence /usr/bin/python3: that is
the interpreter Debian installs the module for, whatever python3 comes first on PATH.
"""

import argparse
import json
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("validate_json.py: the jsonschema module is missing; run tools/install-deps.sh "
             "(Debian package python3-jsonschema, for /usr/bin/python3)")


def describe(error):
    path = "/".join(str(p) for p in error.absolute_path) or "(document)"
    return f"invalid at {path}: {error.message}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema")
    parser.add_argument("inputs", nargs="*", default=["-"])
    parser.add_argument("--expect-invalid", action="store_true",
                        help="every document must be refused (tests of the schema itself)")
    parser.add_argument("--kcat", action="store_true",
                        help="lines are kcat -J envelopes; also check key == payload id")
    parser.add_argument("--min-count", type=int, default=1,
                        help="fail when fewer documents were read (an empty topic proves nothing)")
    args = parser.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # a broken schema fails loudly, not by accepting all
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    total = bad = printed = 0
    limit = 40  # lines of detail; one broken encoder makes every document fail the same way

    def report(text):
        nonlocal printed
        printed += 1
        if printed <= limit:
            print(text)
    partition_of_key = {}
    for name in args.inputs:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        with stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                total += 1
                where = f"{name if name != '-' else 'stdin'} line {number}"
                problems = []
                try:
                    if args.kcat:
                        envelope = json.loads(line)
                        document = json.loads(envelope["payload"])
                        key = envelope.get("key")
                        if isinstance(document, dict) and key != document.get("id"):
                            problems.append(f"key {key!r} is not the payload's id "
                                            f"{document.get('id')!r}")
                        first = partition_of_key.setdefault(key, envelope["partition"])
                        if first != envelope["partition"]:
                            problems.append(f"key {key!r} is on partitions {first} and "
                                            f"{envelope['partition']}")
                    else:
                        document = json.loads(line)
                    problems += [describe(e) for e in
                                 sorted(validator.iter_errors(document), key=lambda e: e.path)]
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(f"not a JSON document: {e}")
                if args.expect_invalid:
                    if problems:
                        report(f"{where}: refused as expected: {problems[0]}")
                    else:
                        bad += 1
                        report(f"{where}: ACCEPTED, but this document is broken on purpose")
                elif problems:
                    bad += 1
                    for problem in problems:
                        report(f"{where}: {problem}")

    if printed > limit:
        print(f"... and {printed - limit} more lines like these")
    schema_name = schema.get("$id", args.schema)
    verdict = "refused" if args.expect_invalid else "valid"
    print(f"{schema_name}: {total - bad} of {total} documents {verdict} as expected")
    if total < args.min_count:
        print(f"validate_json.py: expected at least {args.min_count} documents, read {total}")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
