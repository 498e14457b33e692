import { runCli } from './index.js';

runCli();
