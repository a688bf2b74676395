#!/usr/bin/env node
// Decodes OTLP/HTTP export request bodies with the protobuf definitions that the official
// OpenTelemetry JavaScript packages ship (@opentelemetry/otlp-transformer's generated protobufjs
// module), and prints each as one JSON line: 64-bit integers as strings, enums by name, ids as
// hex. JSON bodies (OTLP/JSON) are read through the same message types, and any key the
// definitions do not know is an error, so both encodings are checked by code that is not ours.
//
//   node decode.js traces|metrics protobuf|json [--out RESULT] FILE...
'use strict';
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const proto = root.opentelemetry.proto;
const types = {
  traces: proto.collector.trace.v1.ExportTraceServiceRequest,
  metrics: proto.collector.metrics.v1.ExportMetricsServiceRequest,
};
const idKeys = new Set(['traceId', 'spanId', 'parentSpanId']);
const toObjectOptions = { longs: String, enums: String, bytes: String, defaults: true, arrays: true, oneofs: true };

// OTLP/JSON writes ids as hex; protobuf's JSON mapping (and protobufjs) expects base64.
function hexIdsToBase64(value) {
  if (Array.isArray(value)) return value.map(hexIdsToBase64);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (idKeys.has(k) && typeof v === 'string') {
        if (!/^[0-9a-f]*$/.test(v)) throw new Error(`${k} is not lowercase hex: ${v}`);
        out[k] = Buffer.from(v, 'hex').toString('base64');
      } else out[k] = hexIdsToBase64(v);
    }
    return out;
  }
  return value;
}

// Every key of the input must survive the round trip through the message types.
function unknownKeys(input, decoded, path, found) {
  if (Array.isArray(input)) {
    input.forEach((v, i) => unknownKeys(v, decoded ? decoded[i] : undefined, `${path}[${i}]`, found));
  } else if (input && typeof input === 'object') {
    for (const [k, v] of Object.entries(input)) {
      if (!decoded || typeof decoded !== 'object' || !(k in decoded)) found.push(`${path}.${k}`);
      else unknownKeys(v, decoded[k], `${path}.${k}`, found);
    }
  }
  return found;
}

function idsToHex(value) {
  if (Array.isArray(value)) return value.map(idsToHex);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value))
      out[k] = idKeys.has(k) && typeof v === 'string' ? Buffer.from(v, 'base64').toString('hex') : idsToHex(v);
    return out;
  }
  return value;
}

function decode(kind, encoding, bytes) {
  const type = types[kind];
  if (!type) throw new Error(`unknown signal ${kind}`);
  let message;
  if (encoding === 'protobuf') {
    message = type.decode(bytes);
  } else if (encoding === 'json') {
    const input = hexIdsToBase64(JSON.parse(bytes.toString('utf8')));
    message = type.fromObject(input);
    const lost = unknownKeys(input, type.toObject(message, toObjectOptions), '', []);
    if (lost.length) throw new Error(`keys the OTLP definitions do not have: ${lost.join(', ')}`);
  } else {
    throw new Error(`unknown encoding ${encoding}`);
  }
  return idsToHex(type.toObject(message, toObjectOptions));
}

function main() {
  let [kind, encoding, ...files] = process.argv.slice(2);
  let out = null;  // with --out, results go to a file instead of stdout
  if (files[0] === '--out') [, out, ...files] = files;
  if (!kind || !encoding || files.length === 0) {
    console.error('usage: decode.js traces|metrics protobuf|json [--out RESULT] FILE...');
    process.exit(2);
  }
  let failed = false;
  const lines = [];
  for (const f of files) {
    try {
      lines.push(JSON.stringify(decode(kind, encoding, fs.readFileSync(f))));
    } catch (e) {
      lines.push(JSON.stringify({ error: `${f}: ${e.message}` }));
      failed = true;
    }
  }
  const text = lines.join('\n') + '\n';
  if (out) fs.writeFileSync(out, text);
  else process.stdout.write(text);
  process.exit(failed ? 1 : 0);
}

main();
