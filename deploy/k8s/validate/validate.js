#!/usr/bin/env node
// Offline schema check of Kubernetes manifests: reads the YAML stream on
// standard input (`kubectl kustomize deploy/k8s`), checks every object
// against the JSON schema of its apiVersion/kind bundled in the npm package
// kubernetes-models (installed by scripts/setup; nothing is fetched here),
// and refuses unknown fields. Exit codes: 0 every object is valid, 1 one is
// not (each problem on stderr), 2 usage error (no input, a kind with no
// bundled schema).
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

function modelFor(apiVersion, kind) {
  if (!/^[a-z0-9.\/]+$/.test(apiVersion)) return undefined;
  try {
    const models = require(`kubernetes-models/${apiVersion}`);
    return models[kind];
  } catch (e) {
    return undefined;
  }
}

function main() {
  const text = fs.readFileSync(0, 'utf8');
  const docs = yaml.loadAll(text).filter((d) => d != null);
  if (docs.length === 0) {
    console.error('validate: no objects on standard input');
    return 2;
  }
  let bad = 0;
  for (const doc of docs) {
    const where = `${doc.kind || '?'}/${(doc.metadata && doc.metadata.name) || '?'}`;
    const Model = modelFor(doc.apiVersion || '', doc.kind || '');
    if (!Model) {
      console.error(`validate: ${where}: no bundled schema for ${doc.apiVersion} ${doc.kind}`);
      return 2;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      bad++;
      console.error(`validate: ${where}: ${e.message}`);
    }
  }
  console.log(`validate: ${docs.length} objects, ${bad} invalid`);
  return bad ? 1 : 0;
}
process.exit(main());
