package io.fluxgate.profiles;

import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;

import io.fluxgate.web.Constraints;
import org.bson.Document;
import org.bson.types.ObjectId;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.data.domain.Sort;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.data.mongodb.core.aggregation.Aggregation;
import org.springframework.data.mongodb.core.aggregation.AggregationExpression;
import org.springframework.data.mongodb.core.aggregation.ArithmeticOperators;
import org.springframework.data.mongodb.core.geo.GeoJsonPoint;
import org.springframework.data.mongodb.core.query.BasicQuery;
import org.springframework.data.mongodb.core.query.Criteria;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.data.mongodb.core.query.Update;
import org.springframework.stereotype.Repository;

import static org.springframework.data.mongodb.core.query.Criteria.where;

/**
 * Every profile query. Reads leave the password hash out by projection unless they say otherwise
 * (the seed's {@code select: false}); user input reaches regexes only escaped.
 */
@Repository
class ProfileRepository {

    static final String COLLECTION = "profiles";
    private static final long DAY_MILLIS = 86_400_000L;

    private final ReactiveMongoTemplate mongo;

    ProfileRepository(ReactiveMongoTemplate mongo) {
        this.mongo = mongo;
    }

    private static Query withoutPassword(Query query) {
        query.fields().exclude("password");
        return query;
    }

    private static Query byId(String id) {
        return Query.query(where("_id").is(new ObjectId(id)));
    }

    Mono<Profile> insert(Profile profile) {
        return mongo.insert(profile);
    }

    Mono<Profile> findById(String id) {
        return mongo.findOne(withoutPassword(byId(id)), Profile.class);
    }

    Mono<Profile> findByEmail(String email) {
        return mongo.findOne(withoutPassword(Query.query(where("email").is(Constraints.normalizeEmail(email)))),
                Profile.class);
    }

    /** The stored hash, for the rare caller that must check a password. */
    Mono<String> passwordHash(String id) {
        Query query = byId(id);
        query.fields().include("password");
        return mongo.findOne(query, Document.class, COLLECTION).mapNotNull(document -> document.getString("password"));
    }

    /**
     * Applies the update, then reads the result. An update command rather than findAndModify: every
     * server reports it on the change stream (the in-process test server does not report
     * findAndModify), and the single-document update is atomic either way.
     */
    Mono<Profile> update(String id, Update update) {
        return mongo.updateFirst(byId(id), update.set("updatedAt", Instant.now()), Profile.class)
                .flatMap(result -> result.getMatchedCount() == 0 ? Mono.empty() : findById(id));
    }

    /** The profile's owner (empty inside when it has none recorded), or nothing when there is no profile. */
    Mono<java.util.Optional<Long>> ownerOf(String id) {
        Query query = byId(id);
        query.fields().include("ownerId");
        return mongo.findOne(query, Document.class, COLLECTION)
                .map(document -> java.util.Optional.ofNullable(document.get("ownerId", Number.class)).map(Number::longValue));
    }

    Mono<Long> delete(String id) {
        return mongo.remove(byId(id), Profile.class).map(result -> result.getDeletedCount());
    }

    /** Keyset page on {@code _id}: {@code limit + 1} documents after the cursor. */
    Flux<Profile> pageAfter(ObjectId after, String status, int limit) {
        Criteria criteria = after == null ? new Criteria() : where("_id").gt(after);
        if (status != null) {
            criteria = criteria.and("status").is(status);
        }
        return mongo.find(withoutPassword(Query.query(criteria).with(Sort.by("_id")).limit(limit + 1)), Profile.class);
    }

    /** Text search over name and bio, best match first (needs the text index). */
    Flux<Profile> searchText(String q, int skip, int limit) {
        Document score = new Document("$meta", "textScore");
        BasicQuery query = new BasicQuery(
                new Document("$text", new Document("$search", q)).append("status", "active"),
                new Document("password", 0).append("score", score));
        query.setSortObject(new Document("score", score));
        return mongo.find(query.skip(skip).limit(limit), Profile.class);
    }

    /** Case-insensitive substring search where the server has no text search; q is matched literally. */
    Flux<Profile> searchPattern(String q, int skip, int limit) {
        Pattern literal = Pattern.compile(escapeRegex(q), Pattern.CASE_INSENSITIVE);
        Query query = Query.query(where("status").is("active").orOperator(
                        where("name").regex(literal), where("email").regex(literal), where("profile.bio").regex(literal)))
                .with(Sort.by("name", "_id")).skip(skip).limit(limit);
        return mongo.find(withoutPassword(query), Profile.class);
    }

    /** Escapes every regex metacharacter, so the caller's text is never a pattern of its own. */
    static String escapeRegex(String text) {
        StringBuilder escaped = new StringBuilder(text.length() * 2);
        for (char c : text.toCharArray()) {
            if ("\\^$.|?*+()[]{}-/".indexOf(c) >= 0) {
                escaped.append('\\');
            }
            escaped.append(c);
        }
        return escaped.toString();
    }

    /** Active profiles by distance from a point, within {@code maxDistance} metres (needs 2dsphere). */
    Flux<Profile> near(double lng, double lat, double maxDistanceMetres, int limit) {
        Query query = Query.query(where("status").is("active")
                        .and("location").nearSphere(new GeoJsonPoint(lng, lat)).maxDistance(maxDistanceMetres))
                .limit(limit);
        return mongo.find(withoutPassword(query), Profile.class);
    }

    Flux<Profile> activeSince(Instant since, int limit) {
        return mongo.find(withoutPassword(Query.query(where("status").is("active").and("lastActive").gte(since))
                .with(Sort.by(Sort.Direction.DESC, "lastActive")).limit(limit)), Profile.class);
    }

    /** Per status: how many and the mean days since last activity, most common first, in the database. */
    Flux<StatusStats> stats(Instant now) {
        Aggregation aggregation = Aggregation.newAggregation(
                Aggregation.match(where("status").in("active", "inactive", "suspended")),
                Aggregation.project("status").and(daysSince(now, "lastActive")).as("daysInactive"),
                Aggregation.group("status").count().as("count").avg("daysInactive").as("avgDaysInactive"),
                Aggregation.project("count", "avgDaysInactive").and("_id").as("status").andExclude("_id"),
                Aggregation.sort(Sort.by(Sort.Direction.DESC, "count").and(Sort.by("status"))));
        return mongo.aggregate(aggregation, COLLECTION, StatusStats.class);
    }

    record StatusStats(String status, long count, double avgDaysInactive) {
    }

    /** {@code (now - $field) / one day}, with now fixed by the caller so every row uses the same instant. */
    private static AggregationExpression daysSince(Instant now, String field) {
        return context -> new Document("$divide", List.of(
                new Document("$subtract", List.of(Date.from(now), "$" + field)), DAY_MILLIS));
    }

    /** Active profiles by activityScore = posts + 0.5 * followers, highest first, in the database. */
    Flux<Ranked> top(int limit) {
        Aggregation aggregation = Aggregation.newAggregation(
                Aggregation.match(where("status").is("active")),
                Aggregation.project("name", "email", "posts", "followers")
                        .and(ArithmeticOperators.Add.valueOf("posts")
                                .add(ArithmeticOperators.Multiply.valueOf("followers").multiplyBy(0.5)))
                        .as("activityScore"),
                Aggregation.sort(Sort.by(Sort.Direction.DESC, "activityScore").and(Sort.by("_id"))),
                Aggregation.limit(limit));
        return mongo.aggregate(aggregation, COLLECTION, Ranked.class);
    }

    record Ranked(String id, String name, String email, int posts, int followers, double activityScore) {
    }

    ReactiveMongoTemplate template() {
        return mongo;
    }
}
