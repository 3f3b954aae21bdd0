package io.fluxgate.support;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import org.junit.jupiter.api.Assumptions;

/**
 * Logical capture needs {@code wal_level=logical} on the server. {@code .ci/run} sets it, and sets
 * {@code FLUXGATE_REQUIRE_LOGICAL=1} so a server without it fails the tests there; elsewhere the
 * logical-mode tests are skipped with the reason printed.
 */
public final class LogicalDecoding {

    public static final String LOGICAL = "fluxgate.changes.capture.mode=logical";

    private LogicalDecoding() {
    }

    public static void assumeAvailable() {
        String level;
        try (Connection connection = LocalPostgres.fromEnvironment().connect("postgres");
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SHOW wal_level")) {
            row.next();
            level = row.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot reach PostgreSQL to read wal_level", e);
        }
        String why = "PostgreSQL runs with wal_level=" + level + "; logical capture needs wal_level=logical"
                + " (ALTER SYSTEM SET wal_level = logical, then a restart; .ci/run does it)";
        if (!"logical".equals(level) && System.getenv("FLUXGATE_REQUIRE_LOGICAL") != null) {
            throw new IllegalStateException(why);
        }
        Assumptions.assumeTrue("logical".equals(level), why);
    }
}
