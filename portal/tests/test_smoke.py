def test_clinician_sees_own_caseload_and_not_other_practice(world_a, world_b, as_member):
    client = as_member(world_a.clinician)
    page = client.get(world_a.url())
    assert page.status_code == 200
    body = page.content.decode()
    assert world_a.client.full_name in body
    assert world_a.other_client.full_name not in body
    assert client.get(world_b.url()).status_code == 404
