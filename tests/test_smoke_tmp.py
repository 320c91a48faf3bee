def test_create_and_get(api):
    r = api.post("/api/tenant/threads", {"subject": "Hello", "initial_message": "first",
                                         "participants": [{"email": "c@example.com"}, {"user_id": "user-2"}]})
    assert r.status_code == 201, r.data
    d = r.data
    r = api.get(f"/api/tenant/threads/{d['id']}")
    assert r.status_code == 200, r.data
    print(r.data)
    r = api.get("/api/tenant/threads")
    assert r.status_code == 200, r.data
    assert len(r.data["items"]) == 1
    r = api.get("/api/tenant/threads/unread-count")
    assert r.data == {"unread_count": 0}, r.data
