package io.fluxgate;

import java.time.Instant;
import java.util.List;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

/** The context's database started empty; these check what the migrations built in it. */
class MigrationsTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    @Test
    void migrationsApplyToAnEmptyDatabase() {
        db.sql("SELECT version, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank")
                .map(row -> row.get("success", Boolean.class))
                .all()
                .as(StepVerifier::create)
                .thenConsumeWhile(Boolean::booleanValue)
                .verifyComplete();
        db.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
                .map(row -> row.get("table_name", String.class))
                .all().collectList()
                .as(StepVerifier::create)
                .assertNext(tables -> assertThat(tables).contains("users", "posts", "accounts", "transfers"))
                .verifyComplete();
    }

    /** The capture function in force is the repeatable migration's, not an older versioned copy. */
    @Test
    void captureFunctionComesFromItsRepeatableMigration() {
        db.sql("SELECT success FROM flyway_schema_history WHERE version IS NULL AND script = 'R__change_log_capture.sql'")
                .map(row -> row.get("success", Boolean.class)).all().collectList()
                .as(StepVerifier::create)
                .assertNext(runs -> assertThat(runs).containsExactly(true))
                .verifyComplete();
        // The rules live in change_log_row, which the trigger (through change_log_entry) and logical capture's append call.
        db.sql("SELECT pg_get_functiondef('change_log_row'::regproc) AS body")
                .map(row -> row.get("body", String.class)).one()
                .as(StepVerifier::create)
                .assertNext(body -> assertThat(body).contains("'password', 'token_version', 'idempotency_key'"))
                .verifyComplete();
        db.sql("SELECT pg_get_functiondef('change_log_capture'::regproc) AS body")
                .map(row -> row.get("body", String.class)).one()
                .as(StepVerifier::create)
                .assertNext(body -> assertThat(body).contains("change_log_entry(TG_ARGV"))
                .verifyComplete();
        db.sql("SELECT pg_get_functiondef('change_log_entry'::regproc) || pg_get_functiondef('change_log_append_runs'::regproc) AS body")
                .map(row -> row.get("body", String.class)).one()
                .as(StepVerifier::create)
                .assertNext(body -> assertThat(body).contains("FROM change_log_row(").contains("change_log_row(t.args"))
                .verifyComplete();
    }

    @Test
    void emailIsUniqueIgnoringCase() {
        insertUser("case@example.com").block();
        insertUser("CASE@example.com".toLowerCase()).as(StepVerifier::create)
                .expectError(DataIntegrityViolationException.class)
                .verify();
    }

    @Test
    void statusAndBalanceAreChecked() {
        Long id = insertUser("checks@example.com").block();
        db.sql("UPDATE users SET status = 'banned' WHERE id = $1").bind(0, id).fetch().rowsUpdated()
                .as(StepVerifier::create).expectError(DataIntegrityViolationException.class).verify();
        db.sql("INSERT INTO accounts (user_id, balance) VALUES ($1, -0.01)").bind(0, id).fetch().rowsUpdated()
                .as(StepVerifier::create).expectError(DataIntegrityViolationException.class).verify();
    }

    @Test
    void databaseKeepsUpdatedAtButNotForActivityAlone() throws InterruptedException {
        Long id = insertUser("stamps@example.com").block();
        Instant created = updatedAt(id);
        Thread.sleep(20);
        db.sql("UPDATE users SET last_active = now() WHERE id = $1").bind(0, id).fetch().rowsUpdated().block();
        assertThat(updatedAt(id)).isEqualTo(created);
        db.sql("UPDATE users SET bio = 'hello' WHERE id = $1").bind(0, id).fetch().rowsUpdated().block();
        assertThat(updatedAt(id)).isAfter(created);
    }

    @Test
    void queriesTheApiNeedsHaveIndexes() {
        List<String> indexes = db.sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
                .map(row -> row.get("indexname", String.class)).all().collectList().block();
        assertThat(indexes).contains("users_email_lower_key", "users_status_last_active_idx",
                "users_last_active_idx", "posts_author_id_idx", "transfers_from_user_idx", "transfers_to_user_idx");
    }

    private reactor.core.publisher.Mono<Long> insertUser(String email) {
        return db.sql("INSERT INTO users (name, email, password) VALUES ('Mig', $1, 'x') RETURNING id")
                .bind(0, email).map(row -> row.get("id", Long.class)).one();
    }

    private Instant updatedAt(Long id) {
        return db.sql("SELECT updated_at FROM users WHERE id = $1").bind(0, id)
                .map(row -> row.get("updated_at", Instant.class)).one().block();
    }
}
