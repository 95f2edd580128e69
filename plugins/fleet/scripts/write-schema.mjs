// Writes schema/fleet-report.schema.json from the built zod schema, so the published
// JSON Schema and the --json output cannot drift (a test checks the file too).
import { writeFileSync } from 'node:fs';
import { fleetReportJsonSchema } from '../dist/index.js';

const target = new URL('../schema/fleet-report.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(fleetReportJsonSchema(), null, 2)}\n`);
