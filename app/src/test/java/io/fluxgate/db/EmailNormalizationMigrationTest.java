package io.fluxgate.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fluxgate.support.LocalPostgres;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rows stored under the old email rule meet the new one (V6): a look-alike of another account's
 * address is reported, never merged or renamed; an address the new rule refuses is reported and kept;
 * one whose normalized form is free takes it, so its owner can still sign in; plain ones are untouched.
 */
class EmailNormalizationMigrationTest {

    @Test
    void lookAlikesAreReportedAndNothingIsMerged() throws SQLException {
        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        String database = postgres.throwawayDatabase();
        String url = "jdbc:postgresql://" + postgres.host() + ":" + postgres.port() + "/" + database;
        try {
            flyway(url, "5").migrate();
            Map<String, Long> ids = new LinkedHashMap<>();
            try (Connection connection = postgres.connect(database)) {
                for (String email : new String[] {"admin@bars.check", "admin@bars.\uFF43heck", "ada@b\u00FCcher.example",
                        "\u0430dmin@bars.check", "plain@example.com"}) {
                    ids.put(email, insert(connection, email));
                }
            }
            flyway(url, null).migrate();
            try (Connection connection = postgres.connect(database)) {
                assertThat(emailOf(connection, ids.get("admin@bars.check"))).isEqualTo("admin@bars.check");
                assertThat(emailOf(connection, ids.get("admin@bars.\uFF43heck"))).as("left as it was, not merged")
                        .isEqualTo("admin@bars.\uFF43heck");
                assertThat(emailOf(connection, ids.get("ada@b\u00FCcher.example"))).isEqualTo("ada@xn--bcher-kva.example");
                assertThat(emailOf(connection, ids.get("\u0430dmin@bars.check"))).isEqualTo("\u0430dmin@bars.check");
                assertThat(emailOf(connection, ids.get("plain@example.com"))).isEqualTo("plain@example.com");

                Map<Long, String> review = new LinkedHashMap<>();
                try (PreparedStatement select = connection.prepareStatement(
                        "SELECT user_id, outcome, collides_with FROM email_review ORDER BY user_id");
                        ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        String outcome = rows.getString("outcome");
                        long with = rows.getLong("collides_with");
                        String collides = rows.wasNull() ? "" : " " + with;
                        review.put(rows.getLong("user_id"), outcome + collides);
                    }
                }
                assertThat(review).containsExactly(
                        Map.entry(ids.get("admin@bars.\uFF43heck"), "collides " + ids.get("admin@bars.check")),
                        Map.entry(ids.get("ada@b\u00FCcher.example"), "normalized"),
                        Map.entry(ids.get("\u0430dmin@bars.check"), "invalid"));
            }
        } finally {
            postgres.drop(database);
        }
    }

    private static Flyway flyway(String url, String target) {
        LocalPostgres postgres = LocalPostgres.fromEnvironment();
        var configuration = Flyway.configure().dataSource(url, postgres.username(), postgres.password())
                .locations("classpath:db/migration");
        return (target == null ? configuration : configuration.target(target)).load();
    }

    private static long insert(Connection connection, String email) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO users (name, email, password) VALUES ('Old Row', ?, 'x') RETURNING id")) {
            insert.setString(1, email);
            try (ResultSet id = insert.executeQuery()) {
                id.next();
                return id.getLong(1);
            }
        }
    }

    private static String emailOf(Connection connection, long id) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT email FROM users WHERE id = ?")) {
            select.setLong(1, id);
            try (ResultSet row = select.executeQuery()) {
                row.next();
                return row.getString(1);
            }
        }
    }
}
