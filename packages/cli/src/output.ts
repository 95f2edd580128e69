import { Redactor } from '@fettle/core/engine';

/** Where a command writes. Everything passes the run's Redactor on the way out. */
export class Output {
  readonly json: boolean;
  readonly redactor: Redactor;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;

  constructor(options: { json: boolean; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream; redactor?: Redactor }) {
    this.json = options.json;
    this.redactor = options.redactor ?? new Redactor();
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
  }

  line(text = ''): void {
    if (!this.json) this.stdout.write(`${this.redactor.scrub(text)}\n`);
  }

  error(text: string): void {
    this.stderr.write(`${this.redactor.scrub(text)}\n`);
  }

  /** One JSON document on stdout. */
  document(value: unknown): void {
    this.stdout.write(`${JSON.stringify(this.redactor.scrubValue(value), null, 2)}\n`);
  }
}
