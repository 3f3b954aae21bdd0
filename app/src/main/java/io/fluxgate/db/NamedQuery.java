package io.fluxgate.db;

import java.util.List;

/**
 * A built-in query that operators may EXPLAIN by name (never arbitrary SQL). Features publish theirs
 * through a {@link Source} next to the SQL they run, so the explained text is the executed text.
 *
 * @param name the path segment of {@code /api/admin/explain/{name}}
 * @param description what the query serves
 * @param sql the statement, with {@code $n} placeholders
 * @param sampleParameters representative values for the placeholders, in order
 */
public record NamedQuery(String name, String description, String sql, List<Object> sampleParameters) {

    /** Implemented by repositories that offer queries to EXPLAIN. */
    public interface Source {
        List<NamedQuery> namedQueries();
    }
}
