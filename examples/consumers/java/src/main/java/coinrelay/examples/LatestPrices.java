package coinrelay.examples;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Prints the latest price of each coin published by coinrelay on Kafka.
 *
 * <p>Reads the quote topic (docs/consuming.md) as its own consumer group, drops redelivered
 * messages by the contract's dedup key (id, vs_currency, last_updated), keeps the newest quote per
 * (id, vs_currency), and once no message came for IDLE_SECONDS prints one line per coin, sorted:
 * "&lt;id&gt; &lt;vs_currency&gt; &lt;price&gt; &lt;last_updated&gt;" (price "null" when
 * CoinGecko had none), and a summary on stderr. It waits up to 60 s to be assigned its partitions.
 *
 * <p>Settings (environment): KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092), KAFKA_TOPIC (crypto-data),
 * KAFKA_GROUP_ID (team-example-java-latest-prices), IDLE_SECONDS (10).
 */
public final class LatestPrices {
  private static final int SCHEMA_VERSION = 1; // the only quote version this consumer understands
  // A first group on a new cluster can take seconds to form.
  private static final long JOIN_TIMEOUT_NANOS = 60_000_000_000L;

  // Prices as BigDecimal: the exact decimal text of the message, no binary rounding on the way.
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  private LatestPrices() {}

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  public static void main(String[] args) throws Exception {
    String topic = env("KAFKA_TOPIC", "crypto-data");
    long idleNanos = (long) (Double.parseDouble(env("IDLE_SECONDS", "10")) * 1e9);

    Properties props = new Properties();
    props.put(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"));
    props.put(
        ConsumerConfig.GROUP_ID_CONFIG, env("KAFKA_GROUP_ID", "team-example-java-latest-prices"));
    // A new group starts at the oldest retained message instead of only new ones.
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());

    Set<String> seen = new HashSet<>(); // dedup keys; a long-running consumer would bound this
    Map<String, JsonNode> latest = new TreeMap<>(); // "id vs_currency" -> quote, sorted
    long read = 0;
    long duplicates = 0;
    long skipped = 0;
    long started = System.nanoTime();
    Long[] lastActivity = {null}; // set once partitions are assigned: joining takes a while

    // close() (end of try) commits the offsets read and leaves the group at once.
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(
          List.of(topic),
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
              lastActivity[0] = System.nanoTime();
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}
          });
      while (lastActivity[0] == null || System.nanoTime() - lastActivity[0] < idleNanos) {
        if (lastActivity[0] == null && System.nanoTime() - started > JOIN_TIMEOUT_NANOS) {
          System.err.println(
              "latest-prices: no partition of " + topic + " assigned after 60 s;"
                  + " check KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC");
          System.exit(1);
        }
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
          lastActivity[0] = System.nanoTime();
          read++;
          JsonNode quote = JSON.readTree(record.value());
          if (quote.path("schema_version").asInt() != SCHEMA_VERSION) {
            skipped++; // a future version: read it from its own topic/field, never guess
            continue;
          }
          String coin = quote.get("id").asText() + " " + quote.get("vs_currency").asText();
          String lastUpdated = quote.get("last_updated").asText();
          if (!seen.add(coin + " " + lastUpdated)) {
            duplicates++; // at-least-once delivery, or the same quote fetched again
            continue;
          }
          JsonNode previous = latest.get(coin);
          // last_updated is fixed-width ISO-8601 UTC, so string order is time order.
          if (previous == null
              || previous.get("last_updated").asText().compareTo(lastUpdated) < 0) {
            latest.put(coin, quote);
          }
        }
      }
    }

    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, JsonNode> entry : latest.entrySet()) {
      JsonNode price = entry.getValue().get("price");
      out.append(entry.getKey())
          .append(' ')
          .append(price.isNull() ? "null" : price.decimalValue().toPlainString())
          .append(' ')
          .append(entry.getValue().get("last_updated").asText())
          .append('\n');
    }
    System.out.print(out);
    System.out.flush();
    System.err.println(
        "read " + read + " messages, skipped " + duplicates + " duplicates, " + latest.size()
            + " coins" + (skipped > 0 ? ", " + skipped + " of another schema_version" : ""));
  }
}
