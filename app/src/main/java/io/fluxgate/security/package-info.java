/** JWT issue and verification, password hashing and the route rules. */
package io.fluxgate.security;
