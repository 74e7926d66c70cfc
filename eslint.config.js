// Lint: typescript-eslint's recommended rules, plus the purity rule of DEVELOPERS.md:
// domain files (schemas, decoding, ACL, alert rules) import no I/O, so they stay pure
// functions of their inputs and are table-tested without sockets or disks.
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:fs', 'node:fs/promises', 'fs', 'fs/promises', 'node:net', 'net', 'node:tls', 'tls', 'node:http', 'http',
  'node:https', 'https', 'node:child_process', 'child_process', 'node:dgram', 'dgram', 'node:worker_threads',
  'aedes', 'mqtt', 'ws', 'fastify', '@duckdb/node-api', '@influxdata/influxdb-client', 'pino',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-output/**', 'data/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // core/ is also held by the compiler (core/tsconfig.json: no Node, no DOM); lint adds clock reads
    files: ['core/**/*.ts', 'ingest/decode.ts', 'ingest/dedupe.ts', 'store/readingRuns.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ioModules.map((name) => ({ name, message: 'domain code is pure: no I/O imports (DEVELOPERS.md, Style)' })),
        patterns: [{ group: ['**/store/**', '**/dashboard/**', '**/broker/**', '**/service/**', '**/ingest/**'], message: 'domain code is pure: no adapters' }],
      }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'no timers in domain code' }, { name: 'setInterval', message: 'no timers in domain code' }],
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'time is injected into domain code (pass now)' },
        { selector: "MemberExpression[object.property.name='Date'][property.name='now']", message: 'time is injected into domain code (pass now)' },
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'randomness is injected into domain code' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'time is injected into domain code (pass now)' },
        { selector: "CallExpression[callee.object.name='performance'][callee.property.name='now']", message: 'time is injected into domain code (pass now)' },
      ],
    },
  },
);
