/** The in-memory object store the tests use is the rehearsal's (lib/local/memory-objects.ts). */
export { MemoryObjectStore } from '../../lib/local/memory-objects.js';
