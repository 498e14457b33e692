/** The time port: milliseconds since the Unix epoch. Hosts pass the system clock, tests a fake one. */
export interface Clock {
  now(): number;
}
