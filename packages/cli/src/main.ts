#!/usr/bin/env node
/** The `missive` executable. */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
