/** Users in PostgreSQL: registration, login, listing, keyset pages, profile edits, statistics, batch import. */
package io.fluxgate.users;
