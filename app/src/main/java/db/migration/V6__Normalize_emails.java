package db.migration;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fluxgate.web.Constraints;
import org.flywaydb.core.api.migration.BaseJavaMigration;
import org.flywaydb.core.api.migration.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings addresses stored under the old rule (trimmed and lower-cased only) to the new one
 * ({@link Constraints#normalizeEmail}), with the very function requests use, so the two can never
 * disagree. A row whose normalized form is free takes it (else its owner could no longer sign in);
 * one whose normalized form another account holds, or that the new rule refuses, is left as it is.
 * Every row touched or left is recorded in {@code email_review} (V5), and a summary is logged:
 * look-alike accounts are reported, never merged. Only rows with characters outside ASCII can change:
 * an ASCII address stored under the old rule is already normalized.
 */
public class V6__Normalize_emails extends BaseJavaMigration {

    private static final Logger log = LoggerFactory.getLogger(V6__Normalize_emails.class);

    @Override
    public void migrate(Context context) throws SQLException {
        Connection connection = context.getConnection();
        Map<Long, String> candidates = new LinkedHashMap<>();
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT id, email FROM users WHERE email ~ '[^\\x01-\\x7F]' ORDER BY id");
                ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                candidates.put(rows.getLong("id"), rows.getString("email"));
            }
        }
        int normalized = 0;
        int collisions = 0;
        int invalid = 0;
        for (Map.Entry<Long, String> row : candidates.entrySet()) {
            long id = row.getKey();
            String email = row.getValue();
            String target = Constraints.normalizeEmail(email);
            if (target == null || !Constraints.isEmailAddress(target)) {
                record(connection, id, email, target == null ? "" : target, "invalid", null);
                invalid++;
                continue;
            }
            Long holder = holderOf(connection, target, id);
            if (holder != null) {
                record(connection, id, email, target, "collides", holder);
                collisions++;
                continue;
            }
            try (PreparedStatement update = connection.prepareStatement("UPDATE users SET email = ? WHERE id = ?")) {
                update.setString(1, target);
                update.setLong(2, id);
                update.executeUpdate();
            }
            record(connection, id, email, target, "normalized", null);
            normalized++;
        }
        if (collisions + invalid > 0) {
            log.warn("Email normalization: {} account(s) read as another's address and {} are not valid under the"
                    + " new rule; they were left as they are: review them in the email_review table", collisions, invalid);
        }
        if (normalized > 0) {
            log.info("Email normalization: {} address(es) now stored in their normalized form (see email_review)",
                    normalized);
        }
    }

    private static Long holderOf(Connection connection, String email, long except) throws SQLException {
        try (PreparedStatement find = connection.prepareStatement(
                "SELECT id FROM users WHERE lower(email) = ? AND id <> ? ORDER BY id LIMIT 1")) {
            find.setString(1, email);
            find.setLong(2, except);
            try (ResultSet found = find.executeQuery()) {
                return found.next() ? found.getLong(1) : null;
            }
        }
    }

    private static void record(Connection connection, long id, String email, String normalized, String outcome,
            Long collidesWith) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("INSERT INTO email_review"
                + " (user_id, email, normalized, outcome, collides_with) VALUES (?, ?, ?, ?, ?)")) {
            insert.setLong(1, id);
            insert.setString(2, email);
            insert.setString(3, normalized);
            insert.setString(4, outcome);
            if (collidesWith == null) {
                insert.setNull(5, java.sql.Types.BIGINT);
            } else {
                insert.setLong(5, collidesWith);
            }
            insert.executeUpdate();
        }
    }
}
