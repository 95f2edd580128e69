/**
 * What the SSH transports share on the host side: atomic file writes through
 * commands, every write of one tick in one tar stream into one command.
 */
export { tarWriter, batchRunner, TEMP_MARK, type Runner, type TarWriterOptions } from './tar-writes.js';
export { osReason } from './write-errors.js';
export { tarArchive, tarPayload, sendPayload, type TarEntry, type TarPart, type Payload } from './tar.js';
export { commandReads, typeOfMode, type FileReads } from './reads.js';
export { controllerStateDir, Leftovers, sweepingFirst } from './leftovers.js';
export { createBecome, askOnce, type Become, type BecomeOptions, type StdinGate } from './become.js';
