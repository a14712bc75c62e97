"""
A third-party MQTT-SN 1.2 client (PyPI mqtt-sn-12, github.com/marcoratto/mqttsn12-python3-client)
driven for test/integration/55-mqttsn-python.test.ts. It connects, subscribes to a topic name,
publishes at QoS 0, 1 and 2 (the library REGISTERs the topic first), then waits for one message
on its subscription. Each step prints one JSON line on stdout so the test can follow along.

usage: mqttsn-py-client.py <port> <client id> <subscribe topic> <publish topic>
"""
import json
import sys
import time

from mqttsn12.client.MqttSnClient import MqttSnClient, MqttSnListener


def say(**kw):
    print(json.dumps(kw), flush=True)


class Listener(MqttSnListener):
    def __init__(self):
        self.got = []

    def message_arrived(self, msg):
        self.got.append(msg)


def main():
    port, client_id, sub_topic, pub_topic = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    c = MqttSnClient()
    c.set_client_id(client_id)
    c.set_keep_alive(30)
    c.set_timeout(10)
    c.open("127.0.0.1", port)
    c.send_connect()
    say(step="connected", connected=c.is_connected())
    listener = Listener()
    c.send_subscribe(sub_topic, 1, listener)
    say(step="subscribed")
    for qos in (0, 1, 2):
        topic_id = c.send_publish(pub_topic, ("from python qos %d" % qos).encode(), qos)
        say(step="published", qos=qos, topic_id=topic_id)
    say(step="waiting")
    deadline = time.time() + 10
    while not listener.got and time.time() < deadline:
        c.polling()
        time.sleep(0.05)
    for m in listener.got:
        say(step="message", topic=m.get_topic_name(), topic_id=m.get_topic_id(), qos=m.get_qos(), payload=m.get_payload().decode())
    c.send_disconnect(0)
    c.close()
    say(step="done", received=len(listener.got))


if __name__ == "__main__":
    main()
