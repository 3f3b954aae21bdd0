package io.fluxgate.support;

import org.testcontainers.mongodb.MongoDBContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.testcontainers.service.connection.ServiceConnection;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.test.context.DynamicPropertyRegistrar;

/**
 * Where the tests' services come from, in the architecture's order: an explicit server
 * ({@code FLUXGATE_DB_HOST}, {@code MONGODB_URI}), else Testcontainers when Docker is available,
 * else this machine's own PostgreSQL and the in-process MongoDB. Every application context gets
 * fresh, empty databases.
 */
@TestConfiguration(proxyBeanMethods = false)
public class TestServices {

    static final String POSTGRES_IMAGE = "postgres:15-alpine";
    static final String MONGO_IMAGE = "mongo:7";

    @Bean
    @ServiceConnection
    @Conditional(UseContainers.class)
    PostgreSQLContainer postgresContainer() {
        return new PostgreSQLContainer(DockerImageName.parse(POSTGRES_IMAGE));
    }

    @Bean
    @Conditional(UseServers.class)
    DynamicPropertyRegistrar serverPostgres() {
        LocalPostgres server = LocalPostgres.fromEnvironment();
        String database = server.throwawayDatabase();
        return server.propertiesFor(database);
    }

    /** MongoDB: a replica set (transactions and change streams work) when Docker answers. */
    @Bean
    @ServiceConnection
    @Conditional(UseMongoContainer.class)
    MongoDBContainer mongoContainer() {
        return new MongoDBContainer(DockerImageName.parse(MONGO_IMAGE));
    }

    /** MongoDB from MONGODB_URI, else the in-process server; a fresh database either way. */
    @Bean
    @Conditional(UseMongoServer.class)
    DynamicPropertyRegistrar mongoServer() {
        String uri = MongoServers.explicitlyConfigured() ? MongoServers.explicitDatabaseUri()
                : MongoServers.freshDatabaseUri();
        return registry -> registry.add("spring.mongodb.uri", () -> uri);
    }

    /**
     * Redis: the machine's own server (as CI runs it). Each context gets its own key prefix, since
     * every context's PostgreSQL numbers its users from 1 and one Redis serves them all.
     */
    @Bean
    DynamicPropertyRegistrar redisKeyPrefix() {
        String prefix = "fluxgate-test-" + java.util.UUID.randomUUID().toString().substring(0, 8) + ":";
        return registry -> registry.add("fluxgate.cache.key-prefix", () -> prefix);
    }

    static final class UseMongoContainer implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return !MongoServers.explicitlyConfigured() && Docker.isAvailable();
        }
    }

    static final class UseMongoServer implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return !new UseMongoContainer().matches(context, metadata);
        }
    }

    /** Testcontainers only when nothing explicit is configured and Docker answers. */
    static final class UseContainers implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return !LocalPostgres.explicitlyConfigured() && Docker.isAvailable();
        }
    }

    static final class UseServers implements Condition {
        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return !new UseContainers().matches(context, metadata);
        }
    }
}
