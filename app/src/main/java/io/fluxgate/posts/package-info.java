/** Posts in PostgreSQL: create, read, edit and delete by the author or an admin, keyset listing. */
package io.fluxgate.posts;
