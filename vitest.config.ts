import { defineConfig } from 'vitest/config';
import SummaryReporter from './scripts/vitest-summary-reporter.js';

// One run over every package: one summary line for CI.
export default defineConfig({
  test: {
    projects: ['packages/*', 'plugins/*', 'examples/*'],
    reporters: ['default', new SummaryReporter()],
  },
});
