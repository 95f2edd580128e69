// Types of ssh2-parts.cjs: @types/ssh2's.
import type { Client as ClientClass, utils } from 'ssh2';

declare const parts: { Client: typeof ClientClass; parseKey: typeof utils.parseKey };
export = parts;
