#!/usr/bin/env node
// Print the longest functions of the TypeScript in js/src (declarations, methods, arrow and
// function expressions; a function's lines include the functions nested in it).
//
//   node scripts/longest_functions.mjs            the 15 longest
//   node scripts/longest_functions.mjs --top 40   more
//   node scripts/longest_functions.mjs --max 150  also exit 1 if any is longer than 150 lines
//
// The house rule is no function over ~150 lines (docs/architecture.md); this is how to find them.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const src = join(root, "js", "src");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a whole number of at least 1`);
  return value;
};
const top = arg("--top", 15);
const max = arg("--max", null);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) yield path;
  }
}

/** A readable name: the declaration's, the variable or property it is assigned to, or "(anonymous)". */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))) {
    return parent.name.getText();
  }
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return "(anonymous)";
}

const found = [];
for (const path of files(src)) {
  const text = readFileSync(path, "utf8");
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      found.push({ lines: end - start + 1, where: `${relative(root, path)}:${start}`, name: nameOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

found.sort((a, b) => b.lines - a.lines);
for (const f of found.slice(0, top)) console.log(`${String(f.lines).padStart(5)}  ${f.where}  ${f.name}`);
if (max !== null) {
  const over = found.filter((f) => f.lines > max);
  if (over.length) {
    console.error(`${over.length} function(s) longer than ${max} lines`);
    process.exit(1);
  }
}
