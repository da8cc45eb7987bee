import socketio

sio = socketio.Client()
sio.on("message", lambda payload: print("got:", payload["data"]))
sio.connect("http://127.0.0.1:8000", auth={"room": "kitchen", "name": "Ann"})
for value in ({"variety": "King Edward", "weight_grams": 180}, {"variety": "", "weight_grams": "heavy"}):
    print("ack:", sio.call("broadcast-message", {"type": "potato", "value": value}))
sio.sleep(1)
sio.disconnect()
