// Runs one program of programs.js with one library and prints what it recorded as JSON:
//   node run-program.js <prom-client|promsd> <program>
const { join } = require('node:path');

const [lib, name] = process.argv.slice(2);
const P = lib === 'prom-client' ? require('prom-client') : require(join(__dirname, '..', '..', 'dist', 'index.js'));
const programs = require('./programs.js');

const records = [];
const out = {
  text: (t) => records.push({ text: t }),
  json: (v) =>
    records.push({
      json: JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))),
    }),
};
programs[name](P, out).then(
  () => {
    process.stdout.write(JSON.stringify(records));
    process.exit(0);
  },
  (err) => {
    process.stdout.write(JSON.stringify([{ error: String(err?.stack ?? err) }]));
    process.exit(0);
  },
);
