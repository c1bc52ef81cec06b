#!/usr/bin/env node
// Launcher for `npx lattice`: registers tsx's ESM loader and runs the TypeScript CLI (no build step).
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
